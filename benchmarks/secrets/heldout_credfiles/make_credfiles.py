"""Generate the held-out set of credential files: formats and spellings not seen while tuning.

Usage: ``python benchmarks/secrets/heldout_credfiles/make_credfiles.py OUT [--seed N]`` writes
``OUT/tree/`` (the files to scan) and ``OUT/manifest.json`` (what each file holds), in the layout
``benchmarks/secrets/heldout/score_heldout.py`` scores. Every value is built at run time from a
seeded generator, so this source holds no credential. Written before the rule changes it
measures, in formats absent from leaky-repo; no rule may be tuned on it (see README.md).
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import string
from pathlib import Path

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
CRYPT64 = "./" + string.digits + string.ascii_uppercase + string.ascii_lowercase
WORDS = ("tiger", "maple", "falcon", "river", "orange", "kitten", "sunflower", "cobalt",
         "bluebird", "gopher", "walrus", "harbor", "meadow", "copper", "lantern")


class Set:
    """Files of the set and the expectation of each."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.files: dict[str, bytes] = {}
        self.manifest: list[dict[str, object]] = []

    def rand(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def weak(self, sep: str = "") -> str:
        """A human password: a word, maybe capitalised, and a number (what people type)."""
        word = self.rng.choice(WORDS)
        if self.rng.random() < 0.5:
            word = word.capitalize()
        return word + sep + str(self.rng.randint(7, 2024))

    def b64(self, n: int) -> str:
        return base64.b64encode(self.rng.randbytes(n)).decode()

    def sha_crypt(self, variant: str) -> str:
        size = {"1": 22, "5": 43, "6": 86}[variant]
        return f"${variant}${self.rand(CRYPT64, 8 if variant == '1' else 16)}$" + \
            self.rand(CRYPT64, size)

    def bcrypt(self) -> str:
        return "$2b$12$" + self.rand(CRYPT64, 53)

    def argon2(self) -> str:
        salt = self.b64(16).rstrip("=")
        digest = self.b64(32).rstrip("=")
        return "$argon2id$v=19$m=65536,t=3,p=4$" + salt + "$" + digest

    def add(self, path: str, text: str, form: str, line: int = 0, end: int = 0) -> None:
        """A file; ``line`` > 0 makes it a positive whose credential is on lines line..end."""
        self.files[path] = text.encode()
        self.manifest.append({"path": path, "kind": "positive" if line else "decoy",
                              "form": form, "line": line, "end": end or line})


def positives(s: Set) -> None:
    users = "\n".join(f"{u}:x:{1000 + i}:{1000 + i}::/home/{u}:/bin/bash"
                      for i, u in enumerate(("svc", "backup")))
    s.add("etc-backup/passwd.old",
          f"root:x:0:0:root:/root:/bin/bash\n{users}\n"
          f"ops:{s.sha_crypt('5')}:1002:1002:Ops:/home/ops:/bin/bash\n",
          "sha256-crypt hash in a passwd-style line", 4)
    s.add("ldap/people.ldif",
          "dn: uid=jdoe,ou=people,dc=acme,dc=net\nobjectClass: inetOrgPerson\nuid: jdoe\n"
          f"cn: John Doe\nuserPassword: {{SSHA}}{s.b64(24)}\n",
          "{SSHA} in an LDIF userPassword", 5)
    s.add("db/seed_accounts.sql",
          "-- seed data\nINSERT INTO accounts (id, login, pw_hash, created)\nVALUES\n"
          f"  (1, 'ann', '{s.argon2()}', now()),\n  (2, 'ben', '{s.argon2()}', now());\n",
          "argon2id hashes in a multi-row SQL INSERT", 4, 5)
    s.add("mail/dovecot.passwd",
          f"bob@mail.acme-corp.net:{{SHA512-CRYPT}}{s.sha_crypt('6')}:5000:5000::/var/vmail::\n",
          "Dovecot passwd-file with a {SHA512-CRYPT} scheme", 1)
    s.add("exports/users.csv",
          "id,email,password,created_at\n"
          f"17,carla@acme-corp.net,{s.bcrypt()},2023-04-01\n",
          "bcrypt hash in a CSV user export", 2)
    s.add("network/core-sw1.cfg",
          "hostname core-sw1\n!\n" + f"enable secret 5 {s.sha_crypt('1')}\n" + "!\nend\n",
          "Cisco enable secret 5 (md5-crypt)", 3)
    s.add("src/main/resources/application.properties",
          "spring.datasource.url=jdbc:postgresql://db:5432/shop\n"
          f"spring.datasource.username=shop\nspring.datasource.password={s.weak()}\n",
          "weak password in Spring properties", 3)
    s.add("helm/values.yaml",
          f"replicaCount: 2\nauth:\n  adminUser: admin\n  adminPassword: {s.weak()}\n",
          "weak password in Helm values", 4)
    s.add(".m2/settings.xml",
          "<settings>\n  <servers>\n    <server>\n      <id>nexus</id>\n"
          f"      <username>deployer</username>\n      <password>{s.weak()}</password>\n"
          "    </server>\n  </servers>\n</settings>\n",
          "weak password in Maven settings.xml element", 6)
    s.add("conf/tomcat-users.xml",
          "<tomcat-users>\n  <role rolename=\"manager-script\"/>\n"
          f"  <user username=\"deploy\" password=\"{s.weak('!')}\" roles=\"manager-script\"/>\n"
          "</tomcat-users>\n",
          "weak password in a tomcat-users.xml attribute", 3)
    s.add("Web.config",
          "<configuration>\n  <connectionStrings>\n    <add name=\"Shop\" connectionString="
          f"\"Server=db1;Database=shop;User Id=shop;Password={s.weak()};\" />\n"
          "  </connectionStrings>\n</configuration>\n",
          "weak password in an ADO.NET connection string", 3)
    s.add("appsettings.Production.json",
          json.dumps({"Smtp": {"Host": "smtp.acme-corp.net", "User": "noreply",
                               "SmtpPassword": s.weak()}}, indent=2) + "\n",
          "weak password in appsettings.json", 5)
    s.add(".gem/credentials",
          f"---\n:rubygems_api_key: rubygems_{s.rand(HEX, 48)}\n",
          "RubyGems credentials file", 2)
    s.add(".boto",
          f"[Credentials]\naws_access_key_id = AKIA{s.rand(string.ascii_uppercase + '234567', 16)}"
          f"\naws_secret_access_key = {s.rand(ALNUM + '+/', 40)}\n",
          "boto config with an AWS secret key", 3)
    s.add("deploy/.env.production",
          f"APP_ENV=production\nSMTP_HOST=smtp.acme-corp.net\nSMTP_PASSWORD={s.weak()}\n",
          "weak password in a .env file", 3)
    s.add("docker-compose.override.yml",
          "services:\n  db:\n    image: mysql:8\n    environment:\n"
          f"      MYSQL_ROOT_PASSWORD: {s.weak()}\n",
          "weak password in compose environment", 5)
    s.add("jenkins/credentials.xml",
          "<com.cloudbees.plugins.credentials.SystemCredentialsProvider>\n"
          "  <domainCredentialsMap>\n"
          "    <entry>\n      <username>ci</username>\n"
          f"      <password>{{AQAAABAAAAAQ{s.b64(48)}}}</password>\n"
          "    </entry>\n  </domainCredentialsMap>\n"
          "</com.cloudbees.plugins.credentials.SystemCredentialsProvider>\n",
          "Jenkins encrypted secret in credentials.xml", 6)
    s.add("WinSCP.ini",
          "[Sessions\\deploy@files.acme-corp.net]\nHostName=files.acme-corp.net\n"
          f"UserName=deploy\nPassword=A35C{s.rand(HEX.upper(), 60)}\n",
          "WinSCP scrambled password", 4)
    s.add(".config/rclone/rclone.conf",
          "[backup]\ntype = sftp\nhost = files.acme-corp.net\nuser = backup\n"
          f"pass = {base64.urlsafe_b64encode(s.rng.randbytes(28)).decode().rstrip('=')}\n",
          "rclone obscured pass", 5)
    s.add("config/database.php",
          "<?php\nreturn [\n  'mysql' => [\n    'host' => '10.0.0.7',\n    'username' => 'shop',\n"
          f"    'password' => '{s.weak()}',\n  ],\n];\n",
          "weak password in a PHP config array", 6)
    s.add("ansible/inventory.ini",
          "[web]\nweb1 ansible_host=10.0.0.5 ansible_user=deploy "
          f"ansible_ssh_pass={s.weak()}\n",
          "weak password in an Ansible inventory host line", 2)
    s.add("terraform.tfvars",
          f"region      = \"eu-west-1\"\ndb_password = \"{s.weak('-')}\"\n",
          "weak password in terraform.tfvars", 2)
    s.add("mosquitto/passwd",
          f"sensor1:$7$101${s.b64(12)}${s.b64(64)}\n",
          "Mosquitto $7$ hash", 1)


def decoys(s: Set) -> None:
    s.add("src/main/resources/application-dev.properties",
          "spring.datasource.username=shop\nspring.datasource.password=${DB_PASSWORD}\n",
          "property reference")
    s.add("helm/values.dev.yaml", "auth:\n  adminUser: admin\n  adminPassword: changeme\n",
          "changeme")
    s.add(".m2/settings-template.xml",
          "<settings><servers><server><id>nexus</id>\n<password>********</password>\n"
          "</server></servers></settings>\n", "masked ********")
    s.add("conf/tomcat-users.sample.xml",
          "<tomcat-users>\n  <user username=\"admin\" password=\"&lt;must-be-changed&gt;\" "
          "roles=\"manager-gui\"/>\n  <user username=\"robot\" password=\"<must-be-changed>\" "
          "roles=\"manager-script\"/>\n</tomcat-users>\n", "tomcat sample placeholder")
    s.add("Web.Debug.config",
          "<add name=\"Shop\" connectionString=\"Server=.;Database=shop;User Id=sa;"
          "Password=<password>;\" />\n", "<password> in a connection string")
    s.add(".env.example", "SMTP_HOST=\nSMTP_PASSWORD=\nDB_PASSWORD=\n", "empty values")
    s.add("etc-backup/passwd",
          "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
          "nobody:*:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", "passwd with x and *")
    s.add("db/schema.sql",
          "CREATE TABLE users (id int primary key, login text, password_hash varchar(60));\n"
          "INSERT INTO users (id, login, password_hash) VALUES (1, 'system', NULL);\n"
          "INSERT INTO users (id, login, password_hash) VALUES (2, 'guest', '');\n",
          "NULL and empty hash columns")
    s.add("docs/setup.md",
          "# Setup\n\nPut `password: <your-password>` in `config.yml`, or export\n"
          "`DB_PASSWORD=your_password_here` before starting.\n", "setup docs")
    s.add("docs/hashing.md",
          "Passwords are stored as bcrypt strings: `$2b$12$` then 53 characters of salt and\n"
          "hash. Argon2 strings start with `$argon2id$v=19$m=65536,t=3,p=4$`.\n",
          "hash prefixes in docs")
    s.add(".config/rclone/rclone.conf.sample", "[backup]\ntype = sftp\nuser = backup\npass =\n",
          "empty rclone pass")
    s.add("docker-compose.secrets.yml",
          "services:\n  db:\n    environment:\n"
          "      MYSQL_ROOT_PASSWORD_FILE: /run/secrets/db_root_password\n",
          "password file path")
    s.add("config/security.yml",
          "password_min_length: 12\npassword_require_digit: true\n"
          "password_hash_algorithm: argon2id\npassword_reset_ttl: 3600\n", "password policy")
    s.add("config/database.dist.php",
          "<?php\nreturn ['mysql' => ['password' => env('DB_PASSWORD', ''),]];\n",
          "PHP env() lookup")
    s.add("jenkins/credentials.template.xml",
          "<entry>\n  <password>${JENKINS_ADMIN_PASSWORD}</password>\n</entry>\n",
          "Jenkins template reference")
    s.add("checksums.csv", f"file,sha256\nmodel.bin,{s.rand(HEX, 64)}\n", "checksum CSV")
    s.add("network/core-sw2.cfg",
          "hostname core-sw2\nenable secret 5 <removed>\nusername admin secret <REDACTED>\n",
          "redacted Cisco secrets")
    vault = "\n".join(s.rand(HEX, 80) for _ in range(6))
    s.add("ansible/group_vars/all/vault.yml", "$ANSIBLE_VAULT;1.1;AES256\n" + vault + "\n",
          "Ansible Vault encrypted file")
    s.add("k8s/secret.yaml",
          "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n"
          "  password: REPLACE_ME\n", "REPLACE_ME")
    s.add("tests/fixtures/login.json", json.dumps({"username": "test", "password": "test"}) + "\n",
          "test fixture password")
    s.add("WinSCP.portable.ini",
          "[Sessions\\anon@mirror]\nHostName=mirror.acme-corp.net\nUserName=anonymous\n",
          "WinSCP session without password")
    s.add("terraform/variables.tf",
          "variable \"db_password\" {\n  type      = string\n  sensitive = true\n}\n",
          "terraform variable declaration")
    s.add("appsettings.Development.json",
          json.dumps({"Smtp": {"SmtpPassword": "", "Password": "{{ smtp_password }}"}},
                     indent=2) + "\n", "empty and templated JSON passwords")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=4711)
    args = parser.parse_args(argv)
    s = Set(args.seed)
    positives(s)
    decoys(s)
    tree = args.out / "tree"
    for rel, data in s.files.items():
        target = tree / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (args.out / "manifest.json").write_text(json.dumps(s.manifest, indent=1) + "\n")
    pos = sum(1 for m in s.manifest if m["kind"] == "positive")
    print(f"{pos} positives, {len(s.manifest) - pos} decoys in {tree}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
