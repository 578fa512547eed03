"""Credential files parsed by format class: tools' own password fields (a weak password is still
a credential there), password hashes in credential-shaped places, configuration keys named like
a password, and the same parsers on git history. Every value is built at run time."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from secrets_helpers import LIMITS, RunStep
from secrets_samples import bcrypt, sha_crypt

from secpipe.scanners.secrets import checks, credfiles
from secpipe.scanners.secrets.engine import FileScan, scan_bytes

RNG = random.Random(4242)
WORDS = ("otter", "plum", "basalt", "quince", "heron")


def weak() -> str:
    """A weak human password (a word and a number): what the value filters of free text drop."""
    return RNG.choice(WORDS) + str(RNG.randrange(10, 999))


def run(text: str | bytes, name: str | None = None) -> FileScan:
    return scan_bytes(text.encode() if isinstance(text, str) else text, LIMITS, name=name)


def found(text: str | bytes, name: str | None = None) -> list[tuple[str, int]]:
    return [(h.rule_id, h.line) for h in run(text, name).hits]


# --- a credential file's own password field ------------------------------------------------------

def test_a_weak_password_in_a_credential_files_own_field_is_found() -> None:
    assert found("db:5432:*:app:" + "pass" + "word\n", "home/.pgpass") == [
        ("secrets.pgpass-password", 1)]
    assert found(f"machine h login u password {weak()}\n", ".netrc") == [
        ("secrets.netrc-password", 1)]
    rc = f'account default\nhost smtp.mail.test\nuser bot\npassword "{weak()}"\n'
    assert found(rc, "home/.msmtprc") == [("secrets.tool-config-password", 4)]


@pytest.mark.parametrize("value", ["", "$SMTP_PASS", "${SMTP_PASS}", "{{ smtp_pass }}",
                                   "<password>", "********", "changeme", "your_password"])
def test_references_masks_and_no_value_words_are_not_found_in_credential_files(
        value: str) -> None:
    assert found(f"localhost:5432:*:app:{value}\n", ".pgpass") == []
    assert found(f'password "{value}"\n', ".esmtprc") == []


def test_git_credentials_password_may_hold_unescaped_at_and_hash() -> None:
    password = weak() + "!#@" + str(RNG.randrange(100, 999))
    hits = run(f"https://ana:{password}@git.corp.test\n", ".git-credentials").hits
    assert [(h.rule_id, h.line, h.column, h.key) for h in hits] == [
        ("secrets.git-credentials", 1, len("https://ana:") + 1, checks.sha256_hex(password))]
    assert found("https://ana@git.corp.test\n", ".git-credentials") == []


def test_tool_sync_configs_are_read_as_json_whatever_the_key_spelling() -> None:
    doc = ('{\n  "host": "files.corp.test",\n  "user": "deploy",\n'
           f'  "pass": "{weak()}",\n  "passphrase": "{weak()}",\n  "password": ""\n}}\n')
    assert found(doc, "proj/sftp-config.json") == [
        ("secrets.tool-config-password", 4), ("secrets.tool-config-password", 5)]
    assert found(doc.replace('"pass"', '"note"').replace('"passphrase"', '"x"'),
                 "sftp-config.json") == []


def test_xml_attributes_and_jetbrains_scrambled_passwords_are_found() -> None:
    xml = (f'<data-sources>\n<connection host="db" user="app" password="{weak()}"/>\n'
           '<connection host="db2" user="app" password="${DB_PASS}"/>\n</data-sources>\n')
    assert found(xml, ".dbeaver/data-sources.xml") == [("secrets.tool-config-password", 2)]
    scrambled = "".join(RNG.choice("0123456789abcdef") for _ in range(48))
    idea = f'<project>\n  <fileTransfer host="h" port="21" password="{scrambled}" />\n</project>\n'
    assert found(idea, "app/.idea/webServers.xml") == [("secrets.jetbrains-password", 2)]
    other = credfiles.credential_file("app/webServers.xml")  # only under .idea/
    assert other is not None and other.kind == "config"


def test_firefox_logins_report_each_encrypted_password_on_its_line() -> None:
    blob = lambda: "ME" + "".join(RNG.choice("ABCDEFGHabcdefgh0123+/") for _ in range(60))  # noqa: E731
    doc = ('{"logins": [\n {"hostname": "https://a.test",\n'
           f'  "encryptedUsername": "{blob()}",\n  "encryptedPassword": "{blob()}"}},\n'
           f' {{"hostname": "https://b.test",\n  "encryptedPassword": "{blob()}"}}\n]}}\n')
    assert found(doc, "profile/logins.json") == [
        ("secrets.firefox-saved-login", 4), ("secrets.firefox-saved-login", 6)]


def test_an_encrypted_binary_store_known_by_name_is_one_finding() -> None:
    data = bytes(RNG.randrange(256) for _ in range(96)) + b"\x00"
    assert found(data, "home/.dbeaver/credentials-config.json") == [
        ("secrets.dbeaver-credentials", 1)]
    assert run(data, "home/other/credentials-config.json").skipped == "binary"
    assert found(b"", "home/.dbeaver/credentials-config.json") == []


def test_wordpress_keys_salts_and_database_password() -> None:
    salt = lambda: "".join(RNG.choice("abcXYZ019!@#(){}<>|:;") for _ in range(64))  # noqa: E731
    text = ("<?php\ndefine( 'DB_USER', 'wp' );\n"
            f"define( 'DB_PASSWORD', '{weak()}' );\n"
            f"define('AUTH_KEY',         '{salt()}');\n"
            f"define('NONCE_SALT',       '{salt()}');\n"
            "define('LOGGED_IN_KEY', 'put your unique phrase here');\n")
    assert found(text, "public_html/wp-config.php") == [
        ("secrets.wordpress-password", 3), ("secrets.wordpress-key", 4),
        ("secrets.wordpress-key", 5)]


# --- password hashes where they stand for an account ---------------------------------------------

def test_hashes_in_passwd_like_lines_are_found_in_any_file() -> None:
    text = (f"root:x:0:0:root:/root:/bin/sh\nftp1:{sha_crypt(RNG)}:3044:3045::/srv:/bin/false\n"
            f"web:{bcrypt(RNG)}\n")
    assert found(text, "backup/ftpd-users") == [
        ("secrets.password-hash", 2), ("secrets.password-hash", 3)]


def test_every_row_of_an_sql_insert_with_hashes_is_found_and_the_statement_ends() -> None:
    rows = ",\n".join(f"({i}, 'u{i}', '{bcrypt(RNG)}')" for i in range(1, 4))
    text = (f"INSERT INTO `members` (`id`, `name`, `secret`) VALUES\n{rows};\n"
            f"SELECT 1;\n-- after the statement: ('x', '{bcrypt(RNG)}')\n")
    assert found(text, "dump.sql") == [("secrets.password-hash", n) for n in (2, 3, 4)]


def test_hashes_under_a_password_key_are_found_but_not_under_a_hash_name_or_in_prose() -> None:
    ssha = "{SSHA}" + "".join(RNG.choice("ABCDabcd0123+/") for _ in range(32))
    assert found(f"dn: uid=a,dc=corp\nuserPassword: {ssha}\n", "people.ldif") == [
        ("secrets.password-hash", 2)]
    assert found(f'users:\n  ana:\n    password: "{bcrypt(RNG)}"\n', "security.yaml") == [
        ("secrets.password-hash", 3)]
    assert found(f'ADMIN_PASSWORD_HASH = "{bcrypt(RNG)}"\n', "settings.py") == []
    assert found(f"A bcrypt string looks like {bcrypt(RNG)} in the table.\n", "a.md") == []
    assert found("enable secret 5 $1$" + "ab$" + "x" * 21 + "\n", "r1.cfg") == []  # too short


# --- configuration keys named like a password ----------------------------------------------------

@pytest.mark.parametrize(("name", "template", "line"), [
    ("app/application.properties", "url=jdbc:x\nspring.datasource.password={v}\n", 2),
    ("values.yaml", "auth:\n  rootPassword: {v}\n", 2),
    ("deploy/.env.staging", "DB_HOST=db\nREDIS_PASS={v}\n", 2),
    ("settings.xml", "<server>\n  <password>{v}</password>\n</server>\n", 2),
    ("appsettings.json", '{{\n  "Mail": {{"SmtpPassword": "{v}"}}\n}}\n', 2),
    ("config/db.php", "<?php\n$cfg = ['host' => 'db',\n  'db_password' => '{v}'];\n", 3),
])
def test_a_weak_password_under_a_password_key_in_a_config_file_is_found(
        name: str, template: str, line: int) -> None:
    assert found(template.format(v=weak()), name) == [("secrets.config-password", line)]


@pytest.mark.parametrize("line", [
    "password=${DB_PASSWORD}", "password: changeme", "password: password",
    "password_min_length: 12", "root_password_file: /run/secrets/root_pw",
    "db_password: dummy-pass-1", "irc_pass: irc_pass", "password: Y2hhbmdlbWU=",
    "password: '{{ vault_db_password }}'", "password: env('DB_PASSWORD')", "password: 12345678",
    "reset_password: enabled1",
])
def test_config_references_descriptions_and_defaults_are_not_found(line: str) -> None:
    assert found(line + "\n", "config.yaml") == []


def test_source_files_keep_the_strict_generic_rule() -> None:
    text = f'DB = {{"password": "{weak()}"}}\n'
    assert found(text, "src/app/models.py") == []
    assert found(text, "src/app/settings.py") == [("secrets.config-password", 1)]


# --- git history ---------------------------------------------------------------------------------

def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_credential_files_known_by_name_are_parsed_in_history(tmp_path: Path,
                                                              run_step: RunStep) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("hi\n")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "start")
    (root / ".pgpass").write_text(f"# local\ndb:5432:*:app:{weak()}\n")
    (root / "sftp-config.json").write_text(f'{{\n  "host": "h",\n  "password": "{weak()}"\n}}\n')
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "oops")
    (root / ".pgpass").unlink()
    (root / "sftp-config.json").unlink()
    _git(root, "commit", "-q", "-am", "remove")
    assert run_step(root).findings == ()
    result = run_step(root, history=True)
    assert sorted((f.rule_id, f.location.path, f.location.line) for f in result.findings) == [
        ("secrets.pgpass-password", ".pgpass", 2),
        ("secrets.tool-config-password", "sftp-config.json", 3)]


def test_every_password_of_a_long_config_file_is_on_its_own_line() -> None:
    values = [weak() + "x" for _ in range(3000)]
    text = "".join(f"# entry {i}\nuser_{i}_password: {v}\n" for i, v in enumerate(values))
    hits = run(text, "accounts.yaml").hits
    assert [(h.rule_id, h.line) for h in hits] == [
        ("secrets.config-password", 2 * i + 2) for i in range(3000)]
    assert [h.key for h in hits] == [checks.sha256_hex(v) for v in values]
