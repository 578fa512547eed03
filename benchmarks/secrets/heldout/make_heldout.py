"""Generate the held-out secrets set: credentials in the forms people leak them, and decoys.

Usage: ``python benchmarks/secrets/heldout/make_heldout.py OUT [--seed N]`` writes ``OUT/tree/``
(the files to scan) and ``OUT/manifest.json`` (what each file holds). Every value is built here at
run time from a seeded generator: this source holds no credential, so the repository stays clean
under any scanner. The layouts are deliberately not those of the unit tests; no rule may be tuned
on this set (see README.md).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import random
import string
from pathlib import Path

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


class Set:
    """Files of the set and the expectation of each."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.files: dict[str, bytes] = {}
        self.manifest: list[dict[str, object]] = []

    def rand(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def pw(self, n: int = 14) -> str:
        """A typed-looking password: letters, digits and one symbol."""
        core = self.rand(ALNUM, n - 2)
        return core[:5] + self.rng.choice("!#%+") + str(self.rng.randint(0, 9)) + core[5:]

    def ghp(self) -> str:
        body = self.rand(ALNUM, 30)
        value, check = binascii.crc32(body.encode()), ""
        while value:
            value, digit = divmod(value, 62)
            check = B62[digit] + check
        return "gh" + "p_" + body + check.rjust(6, "0")

    def akia(self) -> str:
        return "AK" + "IA" + self.rand(string.ascii_uppercase + "234567", 16)

    def aws_secret(self) -> str:
        return self.rand(ALNUM + "+/", 40)

    def add(self, path: str, text: str | bytes, form: str, line: int = 0, end: int = 0) -> None:
        """A file; ``line`` > 0 makes it a positive whose credential is on lines line..end."""
        self.files[path] = text.encode() if isinstance(text, str) else text
        kind = "positive" if line else "decoy"
        self.manifest.append({"path": path, "kind": kind, "form": form, "line": line,
                              "end": end or line})


def positives(s: Set) -> None:
    # --- command lines -------------------------------------------------------------------------
    s.add("ops/nightly-export.sh", "#!/bin/sh\nset -e\nOUT=/var/tmp/export.json\n"
          f"curl -sS -u exporter:{s.pw()} -o \"$OUT\" https://metrics.corp.internal/api/dump\n",
          "curl -u", 4)
    s.add("ci/Jenkinsfile", "pipeline {\n  agent any\n  stages {\n    stage('push') {\n"
          f"      steps {{ sh \"curl --user 'svc-ci:{s.pw()}' -T build.tgz https://nexus.corp.lan/"
          "repository/raw/\" }\n    }\n  }\n}\n", "curl --user", 5)
    s.add("scripts/backup_db.sh", "#!/bin/bash\nDATE=$(date +%F)\n"
          f"mysqldump -h db1.corp.lan -u backup -p{s.pw()} shop > shop-$DATE.sql\n",
          "mysql -pPASS", 3)
    s.add("deploy/cron.d/reports", "# m h dom mon dow user command\n"
          f"15 2 * * * root mysql --user=report --password={s.pw()} reports < /opt/q.sql\n",
          "--password=", 2)
    s.add(".gitlab-ci.yml", "deploy:\n  stage: deploy\n  script:\n"
          f"    - sshpass -p '{s.pw()}' scp -o StrictHostKeyChecking=no dist.tgz"
          " web@10.0.4.7:/srv\n",
          "sshpass -p", 4)
    s.add("docs/mirror.md", "# Mirror\n\nRun:\n\n```\n"
          f"wget --user=mirror --password='{s.pw()}' -r https://files.corp.internal/pub/\n```\n",
          "wget --password", 6)
    s.add("tools/release.ps1", "$ErrorActionPreference = 'Stop'\n"
          f"docker login registry.corp.lan -u releaser -p {s.pw()}\ndocker push app:1.2\n",
          "docker login -p", 2)
    s.add("bin/sync.bat", "@echo off\nREM sync the drop folder\n"
          f"curl.exe -T report.csv {'ftp'}://drop:{s.pw()}@ftp.partner-corp.net/in/\n",
          "ftp URL", 3)
    s.add(".gitmodules", "[submodule \"vendor/lib\"]\n\tpath = vendor/lib\n"
          f"\turl = https://builder:{s.rand(ALNUM, 20)}@git.corp.lan/vendor/lib.git\n",
          "basic-auth URL", 3)
    s.add("Makefile.deploy", "deploy:\n"
          f"\tpsql \"host=db.corp.lan user=etl password={s.pw()} dbname=dw\" -f load.sql\n",
          "psql conninfo", 2)
    # --- encoded blobs -------------------------------------------------------------------------
    aws = f"[default]\naws_access_key_id = {s.akia()}\naws_secret_access_key = {s.aws_secret()}\n"
    s.add("app/settings_bootstrap.py", "import base64\n\n"
          f"_BOOT = \"{base64.b64encode(aws.encode()).decode()}\"\n", "base64 AWS", 3)
    s.add("web/src/client.js", "// generated\n"
          f"export const K = atob('{base64.b64encode(s.ghp().encode()).decode()}');\n",
          "base64 token", 2)
    dsn = f"postgresql://app:{s.pw()}@pg.corp.lan:5432/app"
    s.add("cmd/server/conf.go", "package main\n\n"
          f"const dsnHex = \"{dsn.encode().hex()}\"\n", "hex DSN", 3)
    inner = base64.b64encode(f"SLACK_BOT_TOKEN=xox" f"b-{s.rand(string.digits, 11)}-"
                             f"{s.rand(string.digits, 12)}-{s.rand(ALNUM, 24)}".encode())
    s.add("helm/values-prod.yaml", "bot:\n"
          f"  blob: {base64.b64encode(inner).decode()}\n", "double base64", 2)
    env = f"DEBUG=0\nOPENAI_API_KEY=sk-proj-{s.rand(ALNUM + '_-', 56)}T3BlbkFJ{s.rand(ALNUM, 20)}\n"
    s.add("conf/app.properties", "app.name=shop\n"
          f"app.bootstrap={base64.b64encode(env.encode()).decode()}\n", "base64 env", 2)
    # --- credential files by name --------------------------------------------------------------
    s.add("home/.kaggle/kaggle.json",
          json.dumps({"username": "jdoe", "key": s.rand(HEX, 32)}), "kaggle.json", 1)
    s.add("home/.pypirc", "[distutils]\nindex-servers =\n    corp\n\n[corp]\n"
          f"repository = https://pypi.corp.lan/simple\nusername = uploader\npassword = {s.pw()}\n",
          ".pypirc", 8)
    s.add("home/.netrc", "machine ci.corp.lan\n  login deployer\n"
          f"  password {s.pw()}\n", ".netrc multi-line", 3)
    s.add("web/.npmrc", "registry=https://npm.corp.lan/\n"
          f"_auth={base64.b64encode(f'npmuser:{s.pw()}'.encode()).decode()}\nalways-auth=true\n",
          ".npmrc _auth", 2)
    s.add("svc/.npmrc", f"//npm.corp.lan/repository/npm/:_authToken={s.rand(ALNUM, 36)}\n",
          ".npmrc _authToken", 1)
    auth = base64.b64encode(f"ci-bot:{s.pw()}".encode()).decode()
    s.add("home/.docker/config.json", json.dumps(
        {"auths": {"registry.corp.lan:5000": {"auth": auth}}}, indent=4), "docker auths", 4)
    s.add("home/.aws/credentials", "[prod]\nregion = eu-west-1\n"
          f"aws_secret_access_key={s.aws_secret()}\n", "AWS credentials", 3)
    s.add("home/.config/gcloud/application_default_credentials.json", json.dumps({
        "client_id": f"{s.rand(string.digits, 12)}-{s.rand(ALNUM, 32).lower()}"
                     ".apps.googleusercontent.com",
        "client_secret": "d-" + s.rand(ALNUM, 22),
        "refresh_token": "1//" + s.rand(ALNUM + "_-", 100), "type": "authorized_user"},
        indent=2), "gcloud ADC", 3, 4)
    s.add("home/.git-credentials",
          f"https://jdoe:{s.rand(ALNUM, 32)}@gitea.corp.lan\n", ".git-credentials", 1)
    s.add("home/.pgpass", "# hostname:port:database:username:password\n"
          f"db-prod.corp.lan:5432:*:reporting:{s.pw()}\n", ".pgpass", 2)
    salt = s.rand(ALNUM + "./", 8)
    s.add("site/.htpasswd", f"admin:$apr1${salt}${s.rand(ALNUM + './', 22)}\n", ".htpasswd", 1)
    s.add("backup/etc/shadow", "daemon:*:19000:0:99999:7:::\n"
          f"ops:$6${s.rand(ALNUM, 16)}${s.rand(ALNUM + './', 86)}:19500:0:99999:7:::\n",
          "shadow", 2)
    ppk = "\n".join(s.rand(ALNUM + "+/", 64) for _ in range(14))
    s.add("keys/jump-host.ppk", "PuTTY-User-Key-File-3: ssh-rsa\nEncryption: none\n"
          f"Comment: ops\nPublic-Lines: 2\n{s.rand(ALNUM, 64)}\n{s.rand(ALNUM, 40)}\n"
          f"Private-Lines: 14\n{ppk}\nPrivate-MAC: {s.rand(HEX, 64)}\n", "PuTTY ppk", 7, 21)
    s.add("config/master.key", s.rand(HEX, 32), "Rails master.key", 1)
    s.add("home/.config/filezilla/sitemanager.xml",
          "<?xml version=\"1.0\"?>\n<FileZilla3>\n  <Servers>\n    <Server>\n"
          "      <Host>ftp.corp.lan</Host>\n      <User>web</User>\n"
          f"      <Pass encoding=\"base64\">{base64.b64encode(s.pw().encode()).decode()}</Pass>\n"
          "    </Server>\n  </Servers>\n</FileZilla3>\n", "FileZilla sitemanager", 7)
    s.add("home/.config/filezilla/recentservers.xml",
          "<?xml version=\"1.0\"?>\n<FileZilla3><RecentServers><Server>\n"
          f"<Host>10.1.1.5</Host><User>root</User><Pass>{s.pw()}</Pass>\n"
          "</Server></RecentServers></FileZilla3>\n", "FileZilla recentservers", 3)
    s.add("blog/wp-config.php", "<?php\ndefine( 'DB_NAME', 'blog' );\n"
          f"define( 'DB_PASSWORD', '{s.pw()}' );\n", "wp-config", 3)
    s.add("sublime/sftp-config.json", "{\n    \"type\": \"sftp\",\n    \"host\": \"10.2.0.9\",\n"
          f"    \"user\": \"deploy\",\n    \"password\": \"{s.pw()}\"\n}}\n", "sftp-config", 5)
    s.add("home/.my.cnf", f"[client]\nuser=dba\npassword=\"{s.pw()}\"\n", ".my.cnf", 3)
    s.add("home/.s3cfg", "[default]\naccess_key = " + s.akia() + "\n"
          f"secret_key = {s.aws_secret()}\n", ".s3cfg", 2, 3)
    s.add("home/.mozilla/logins.json", json.dumps({"logins": [{
        "hostname": "https://intranet.corp.lan", "encryptedUsername": "MD" + s.rand(ALNUM, 60),
        "encryptedPassword": "MD" + s.rand(ALNUM, 60)}]}), "Firefox logins.json", 1)
    # --- UTF-16 / UTF-32 -----------------------------------------------------------------------
    env16 = f"GITHUB_TOKEN={s.ghp()}\r\nAWS_ACCESS_KEY_ID={s.akia()}\r\n"
    s.add("win/.env", b"\xff\xfe" + env16.encode("utf-16-le"), "UTF-16LE BOM .env", 1, 2)
    env16b = f"# tokens\nDEPLOY_TOKEN={s.ghp()}\n"
    s.add("win2/.env", env16b.encode("utf-16-be"), "UTF-16BE no BOM .env", 2)
    env32 = f"api:\n  github: {s.ghp()}\n"
    s.add("win3/config.yml", env32.encode("utf-32"), "UTF-32 BOM yaml", 2)


def decoys(s: Set) -> None:
    d = s.add
    d("ops/fetch.sh", "curl -u \"${API_USER}:${API_PASSWORD}\" https://api.corp.lan/x\n",
      "curl env")
    d("docs/curl.md", "curl -u user:changeme https://example.com/api\n", "curl changeme")
    d("docs/curl2.md", "curl -u <user>:<password> https://api.example.com/v1/items\n", "curl <>")
    d("scripts/mysql-prompt.sh", "mysql -u root -p shop < dump.sql\n", "mysql -p prompt")
    d("docs/mysql.md", "mysql -u admin -p<password> -h db\n", "mysql -p<password>")
    d("compose.sh", "docker run -d -p 8080:80 -p 8443:443 nginx:1.27\n", "-p port")
    d("ssh.sh", "ssh -p 2222 deploy@bastion\nscp -P 2222 a b\n", "ssh -p port")
    d("ci/ssh.yml", "script:\n  - sshpass -p \"$SSHPASS\" ssh web@10.0.0.1 uptime\n", "sshpass env")
    d("docs/psql.md", "psql -h localhost -p 5432 -U postgres -d app\n", "psql -p port")
    d("bin/wget.sh", "wget --user=\"$U\" --password=\"$WGET_PASS\" https://f.corp.lan/a\n",
      "wget env")
    d("docs/urls.md", "Use `https://user:password@example.com/path` style URLs.\n", "url doc")
    d("docs/urls2.md", "git clone https://<user>:<token>@git.corp.lan/repo.git\n", "url <>")
    d("docs/urls3.md", "See https://github.com/org/repo.git and http://localhost:8080/\n",
      "plain url")
    lorem = ("The quick brown fox jumps over the lazy dog while the committee reviews the "
             "quarterly roadmap for the platform team.")
    d("app/banner.py", f"BANNER = \"{base64.b64encode(lorem.encode()).decode()}\"\n",
      "base64 prose")
    d("web/logo.css", ".logo{background:url(data:image/png;base64,"
      f"{base64.b64encode(bytes(s.rng.randrange(256) for _ in range(300))).decode()})}}\n",
      "data URI")
    d("cfg/defaults.b64.yaml",
      f"defaults: {base64.b64encode(b'retries: 3' + bytes([10]) + b'timeout: 30').decode()}\n",
      "base64 config")
    d("app/hexconst.go", f"const banner = \"{b'hello world from the build'.hex()}\"\n",
      "hex prose")
    d("package-lock.json", json.dumps({"packages": {"node_modules/a": {
        "integrity": "sha512-" + base64.b64encode(hashlib.sha512(b"a").digest()).decode()}}},
        indent=2), "lockfile integrity")
    d("poetry.lock", "[[package]]\nname = \"a\"\nfiles = [\n    {file = \"a.whl\", hash = "
      f"\"sha256:{hashlib.sha256(b'a').hexdigest()}\"}},\n]\n", "poetry hash")
    go_hash = base64.b64encode(hashlib.sha256(b"m").digest()).decode()
    d("go.sum", f"example.org/m v1.0.0 h1:{go_hash}\n", "go.sum")
    d("CHANGELOG.md", f"- fix ({hashlib.sha256(b'c').hexdigest()[:40]})\n", "commit sha")
    d("ex/.kaggle/kaggle.json", json.dumps({"username": "you", "key": "x" * 32}),
      "kaggle placeholder")
    d("ex/.pypirc", "[pypi]\nusername = __token__\npassword = <your PyPI token>\n",
      ".pypirc placeholder")
    d("ex/.netrc", "machine api.corp.lan login ci password ${NETRC_PASSWORD}\n", ".netrc env")
    d("ex/.npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n", ".npmrc env")
    d("ex2/.npmrc", "registry=https://registry.npmjs.org/\nsave-exact=true\n", ".npmrc plain")
    d("ex/.docker/config.json", json.dumps({"auths": {"https://index.docker.io/v1/": {}},
                                            "credsStore": "desktop"}, indent=2), "docker empty")
    doc_id = "AKIA" + "IOSFODNN7" + "EXAMPLE"
    doc_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"
    d("ex/.aws/credentials",
      f"[default]\naws_access_key_id = {doc_id}\naws_secret_access_key = {doc_key}\n",
      "AWS doc example")
    d("ex/sa.json", json.dumps({"type": "service_account", "project_id": "demo",
                                "private_key_id": "", "private_key": ""}, indent=2), "SA empty")
    d("ex/.git-credentials", "https://jdoe:${GIT_TOKEN}@github.com\n", ".git-credentials env")
    d("ex/.pgpass", "localhost:5432:*:app:*\n", ".pgpass star")
    d("site/.htaccess", "AuthType Basic\nAuthUserFile /srv/.htpasswd\nRequire valid-user\n",
      ".htaccess")
    d("ex/etc/shadow", "root:!:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n", "shadow locked")
    d("keys/jump-host.pub", f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{s.rand(ALNUM, 43)} ops\n",
      "public key")
    d("config/credentials.yml.enc", f"{s.rand(ALNUM + '+/', 120)}--{s.rand(ALNUM, 24)}=="
      f"--{s.rand(ALNUM, 22)}==\n", "rails encrypted")
    d("ex/sitemanager.xml", "<FileZilla3><Servers><Server><Host>h</Host><User>u</User>"
      "<Pass></Pass></Server></Servers></FileZilla3>\n", "FileZilla empty")
    d("blog/wp-config-sample.php", "<?php\ndefine( 'DB_PASSWORD', 'password_here' );\n",
      "wp sample")
    d("docs/README.txt", "Install notes\r\nRun the installer and restart.\r\n".encode("utf-16"),
      "UTF-16 text")
    template = "API_TOKEN=<your token>\r\nPASSWORD=changeme\r\n"
    d("win/.env.template", b"\xff\xfe" + template.encode("utf-16-le"), "UTF-16 placeholders")
    d("assets/blob.bin", bytes([0, 1, 2, 3, 0, 0, 255, 254]) * 64, "binary")
    d("md5sums", f"{hashlib.md5(b'x').hexdigest()}  usr/bin/x\n", "md5sums")  # noqa: S324
    d("home/.mozilla/empty/logins.json", json.dumps({"nextId": 1, "logins": []}),
      "Firefox empty")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    s = Set(args.seed)
    positives(s)
    decoys(s)
    tree = args.out / "tree"
    for rel, data in s.files.items():
        path = tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (args.out / "manifest.json").write_text(json.dumps(s.manifest, indent=1))
    pos = sum(1 for m in s.manifest if m["kind"] == "positive")
    print(f"{pos} positives, {len(s.manifest) - pos} decoys in {tree}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
