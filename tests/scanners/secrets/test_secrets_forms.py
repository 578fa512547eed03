"""Secrets in the forms people leak them: command lines, encoded blobs, credential files known by
name, UTF-16/UTF-32 text. Every value is built at run time; each form has a decoy."""

from __future__ import annotations

import base64
import json
import random
import string
from pathlib import Path

import pytest
from secrets_helpers import LIMITS
from secrets_samples import crc_token

from secpipe.scanners.secrets import checks, credfiles, encoded, sources
from secpipe.scanners.secrets.engine import FileScan, scan_bytes, scan_file

ALNUM = string.ascii_letters + string.digits
RNG = random.Random(20261204)


def pw() -> str:
    """A typed password: letters, a symbol, digits (never a literal in this file)."""
    return "".join(RNG.choice(ALNUM) for _ in range(9)) + RNG.choice("#!+") + str(
        RNG.randrange(10, 99))


def hex_(n: int) -> str:
    return "".join(RNG.choice("0123456789abcdef") for _ in range(n))


def run(text: str | bytes, name: str | None = None) -> FileScan:
    return scan_bytes(text.encode() if isinstance(text, str) else text, LIMITS, name=name)


def found(text: str | bytes, name: str | None = None) -> list[tuple[str, int]]:
    return [(h.rule_id, h.line) for h in run(text, name).hits]


# --- command lines ------------------------------------------------------------------------------

@pytest.mark.parametrize(("template", "rule"), [
    ("RUN curl --fail -u robot:{p} -o /tmp/a.tgz https://art.internal/a.tgz", "curl-user-password"),
    ("curl --proxy-user 'proxy:{p}' https://example.org", "curl-user-password"),
    ("mariadb-dump -uroot -p{p} --all-databases > all.sql", "mysql-cli-password"),
    ("mysql --host=db --password={p} app", "mysql-cli-password"),
    ("sshpass -p\"{p}\" rsync -a dist/ web@host:/srv/", "sshpass-password"),
    ("docker login --username ci --password {p} ghcr.io", "registry-login-password"),
    ("wget --ftp-password='{p}' ftp://mirror.internal/pub/a", "cli-password-flag"),
])
def test_password_on_a_command_line_is_found_on_its_line(template: str, rule: str) -> None:
    secret = pw()
    scan = run("#!/bin/sh\nset -eu\n" + template.format(p=secret) + "\n")
    assert [(h.rule_id, h.line) for h in scan.hits] == [(f"secrets.{rule}", 3)]
    assert secret not in scan.hits[0].evidence


@pytest.mark.parametrize("line", [
    "curl -u \"$USERNAME:$PASSWORD\" https://api.internal",
    "curl -u ${USER}:${TOKEN} https://api.internal",
    "curl -u admin:admin http://localhost:9200",
    "mysql -uroot -p mydb",
    "mysql -u root -p'<your password>'",
    "docker run --rm -p 5432:5432 -p 8080:8080 postgres:16",
    "ssh -p 2222 deploy@bastion && sshpass -f pwfile ssh host",
    "docker login -u ci --password-stdin ghcr.io",
    "wget --ask-password https://example.org/a",
    "psql -h db -p 5432 -U app",
])
def test_command_line_decoy_is_not_reported(line: str) -> None:
    assert found(line + "\n") == []


def test_basic_auth_url_with_a_password_is_found_and_a_placeholder_is_not() -> None:
    secret = pw() + "Qz7"
    assert found(f"git remote add origin https://bot:{secret}@git.internal/app.git\n") == [
        ("secrets.url-password", 1)]
    assert found("git remote add origin https://bot:<token>@git.internal/app.git\n") == []


# --- encoded blobs ------------------------------------------------------------------------------

def aws_pair() -> str:
    key_id = "AK" + "IA" + "".join(RNG.choice(string.ascii_uppercase + "234567") for _ in range(16))
    secret = "".join(RNG.choice(ALNUM + "+/") for _ in range(40))
    return f"aws_access_key_id={key_id}\naws_secret_access_key={secret}\n"


def test_aws_credentials_stored_base64_in_a_constant_are_found_at_the_constant() -> None:
    blob = base64.b64encode(aws_pair().encode()).decode()
    scan = run(f"# bootstrap\nCREDS = (\n    '{blob}'\n)\n")
    assert {(h.rule_id, h.line) for h in scan.hits} == {
        ("secrets.aws-access-key", 3), ("secrets.aws-secret-key", 3)}
    assert all(h.evidence.endswith("base64-encoded") for h in scan.hits)


def test_hex_and_double_base64_are_decoded_too() -> None:
    token = crc_token(RNG, "ghp_")
    hexed = f"export TOKEN_HEX={token.encode().hex()}\n"
    assert [(h.rule_id, h.evidence.split(", ")[1]) for h in run(hexed).hits] == [
        ("secrets.github-pat", "hex-encoded")]
    twice = base64.b64encode(base64.b64encode(f"token: {token}".encode())).decode()
    assert [h.evidence.split(", ")[1] for h in run(f"x: {twice}\n").hits] == [
        "base64/base64-encoded"]


def test_encoded_decoys_are_not_reported() -> None:
    prose = base64.b64encode(b"Quarterly report for the platform group, all figures final.")
    image = base64.b64encode(RNG.randbytes(600))
    integrity = base64.b64encode(RNG.randbytes(64))
    digest = hex_(64)
    text = (f"a = '{prose.decode()}'\nimg = 'data:image/png;base64,{image.decode()}'\n"
            f'"integrity": "sha512-{integrity.decode()}"\nsum = {digest}\n')
    assert found(text) == []


def test_decoding_is_bounded() -> None:
    assert encoded.MAX_DEPTH == 2
    token = crc_token(RNG, "ghp_")
    thrice = f"t={token}".encode()
    for _ in range(3):
        thrice = base64.b64encode(thrice)
    assert found(f"x = {thrice.decode()}\n") == []  # three layers: past the bound
    huge = base64.b64encode(f"t={token} ".encode() * (encoded.MAX_TOKEN // 30)).decode()
    assert found(huge) == []  # a token this long is data


# --- credential files known by name -------------------------------------------------------------

def test_kaggle_json_key_is_found_by_file_name() -> None:
    doc = json.dumps({"username": "ana", "key": hex_(32)}, indent=2)
    assert found(doc, "home/ana/.kaggle/kaggle.json") == [("secrets.kaggle-api-key", 3)]
    assert found(doc, "fixtures/user.json") == []  # no issuer name on the line: not a key
    assert found(json.dumps({"username": "ana", "key": "<KAGGLE_KEY>"}), "kaggle.json") == []


def test_netrc_password_is_found_on_its_line_whatever_the_layout() -> None:
    secret = pw()
    text = f"default\nmachine a.internal\n\tlogin ci\n\tpassword\t{secret}\n"
    assert found(text, "/root/.netrc") == [("secrets.netrc-password", 4)]
    assert found("machine a login b password $NETRC_PASS\n", "_netrc") == []


def test_git_credentials_url_password_is_found() -> None:
    secret = "".join(RNG.choice(ALNUM) for _ in range(30))
    text = f"https://x-token:{secret}@gitlab.internal\n"
    assert found(text, ".git-credentials") == [("secrets.git-credentials", 1)]
    assert found("https://ana@gitlab.internal\n", ".git-credentials") == []


def test_pgpass_password_field_is_found_with_escapes() -> None:
    secret = pw()
    text = f"# comment\n*:*:analytics:etl\\:ro:{secret}\n"
    hits = run(text, "home/.pgpass").hits
    assert [(h.rule_id, h.line, h.key) for h in hits] == [
        ("secrets.pgpass-password", 2, checks.sha256_hex(secret))]
    assert found("db:5432:*:app:*\nlocalhost:5432:app:app:\n", ".pgpass") == []


def test_pypirc_and_aws_credentials_are_read_as_ini() -> None:
    secret = pw()
    pypirc = f"[internal]\nrepository: https://pkgs.internal/\nusername: up\npassword: {secret}\n"
    assert found(pypirc, ".pypirc") == [("secrets.pypirc-password", 4)]
    assert found("[pypi]\npassword = ${TWINE_PASSWORD}\n", ".pypirc") == []
    key = "".join(RNG.choice(ALNUM) for _ in range(40))
    aws = f"[ci]\noutput = json\naws_secret_access_key={key}\n"
    assert found(aws, "/home/u/.aws/credentials") == [("secrets.aws-secret-key", 3)]
    empty = "[ci]\naws_secret_access_key =\naws_session_token = ${AWS_SESSION_TOKEN}\n"
    assert found(empty, "/home/u/.aws/credentials") == []


def test_npmrc_auth_lines_are_found_and_env_references_are_not() -> None:
    auth = base64.b64encode(f"ci:{pw()}".encode()).decode()
    text = f"registry=https://npm.internal/\n//npm.internal/:_auth={auth}\n"
    assert found(text, "project/.npmrc") == [("secrets.npmrc-auth", 2)]
    assert found("//npm.internal/:_authToken=${NPM_TOKEN}\n", ".npmrc") == []


def test_docker_config_auths_are_found() -> None:
    auth = base64.b64encode(f"robot:{pw()}".encode()).decode()
    doc = json.dumps({"auths": {"ghcr.io": {"auth": auth}}, "credsStore": ""}, indent=1)
    assert found(doc, "home/.docker/config.json") == [("secrets.docker-config-auth", 4)]
    empty = json.dumps({"auths": {"ghcr.io": {}}, "credsStore": "osxkeychain"})
    assert found(empty, "home/.docker/config.json") == []
    placeholder = base64.b64encode(b"user:changeme").decode()
    assert found(json.dumps({"auths": {"r": {"auth": placeholder}}}), ".docker/config.json") == []


def test_gcloud_user_credentials_are_found() -> None:
    doc = json.dumps({"type": "authorized_user", "client_id": "1-a.apps.googleusercontent.com",
                      "refresh_token": "1//0g" + "".join(RNG.choice(ALNUM) for _ in range(60))},
                     indent=2)
    assert found(doc, "gcloud/application_default_credentials.json") == [
        ("secrets.gcloud-credentials", 4)]
    assert found(json.dumps({"refresh_token": ""}), "application_default_credentials.json") == []


def test_password_hashes_of_htpasswd_and_shadow_are_medium_findings() -> None:
    salt = "".join(RNG.choice(ALNUM) for _ in range(8))
    body = "".join(RNG.choice(ALNUM + "./") for _ in range(43))
    assert found(f"# users\nops:$2y$10${salt}{body}\n", "web/.htpasswd") == [
        ("secrets.password-hash", 2)]
    shadow = f"root:!:19000::::::\nana:$y$j9T${salt}${body}:19000:0:99999:7:::\n"
    assert found(shadow, "etc/shadow") == [("secrets.password-hash", 2)]
    assert found("root:*:19000:0:99999:7:::\nnobody:!!:19000::::::\n", "etc/shadow") == []


def test_putty_key_private_lines_are_found() -> None:
    private = [base64.b64encode(RNG.randbytes(48)).decode() for _ in range(4)]
    text = ("PuTTY-User-Key-File-2: ssh-ed25519\nEncryption: none\nComment: k\nPublic-Lines: 1\n"
            f"{base64.b64encode(RNG.randbytes(40)).decode()}\nPrivate-Lines: 4\n"
            + "\n".join(private) + "\nPrivate-MAC: " + hex_(40) + "\n")
    hits = run(text, "keys/build.PPK").hits
    assert [(h.rule_id, h.line, h.end_line) for h in hits] == [("secrets.putty-private-key", 7, 10)]
    assert found(text.split("Private-Lines")[0], "keys/build.ppk") == []


def test_rails_master_key_is_found_by_name() -> None:
    key = hex_(32)
    assert found(key, "config/master.key") == [("secrets.rails-master-key", 1)]
    assert found(key + "\n", "config/credentials/production.key") == [
        ("secrets.rails-master-key", 1)]
    assert found(key, "notes/master.txt") == []
    assert found("0" * 32, "config/master.key") == []


def test_filezilla_passwords_plain_and_base64_are_found() -> None:
    secret = pw()
    coded = base64.b64encode(secret.encode()).decode()
    xml = ("<FileZilla3 version=\"3.66\">\n<Servers>\n<Server><Host>h</Host>\n"
           f"<Pass encoding=\"base64\">{coded}</Pass>\n</Server>\n<Server>\n"
           f"<Pass>{pw()}</Pass></Server></Servers></FileZilla3>\n")
    assert found(xml, "AppData/FileZilla/sitemanager.xml") == [
        ("secrets.filezilla-password", 4), ("secrets.filezilla-password", 7)]
    assert found("<Pass encoding=\"base64\"></Pass>\n<Pass>xxxx</Pass>\n", "recentservers.xml") \
        == []


def test_credential_file_names_are_matched_with_their_folder() -> None:
    assert credfiles.credential_file("a/.aws/credentials") is not None
    assert credfiles.credential_file("a/credentials") is None
    assert credfiles.credential_file("x.zip!home/.netrc") is not None
    assert credfiles.credential_file("C:\\Users\\a\\_netrc") is not None
    assert credfiles.credential_file("docs/netrc.md") is None


def test_a_credential_file_is_cached_apart_from_the_same_bytes_under_another_name(
        tmp_path: Path) -> None:
    doc = json.dumps({"username": "ana", "key": hex_(32)}).encode()
    (tmp_path / "kaggle.json").write_bytes(doc)
    (tmp_path / "user.json").write_bytes(doc)
    named, _, _ = scan_file(str(tmp_path / "kaggle.json"), LIMITS)
    other, _, _ = scan_file(str(tmp_path / "user.json"), LIMITS)
    assert named.digest != other.digest
    assert [h.rule_id for h in named.hits] == ["secrets.kaggle-api-key"] and other.hits == []


def test_a_credential_file_inside_an_archive_is_parsed(tmp_path: Path) -> None:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("home/.pgpass", f"db:5432:*:app:{pw()}\n")
    hits = run(buf.getvalue(), "backup.zip").hits
    assert [(h.rule_id, h.member) for h in hits] == [("secrets.pgpass-password", "home/.pgpass")]


# --- UTF-16 / UTF-32 ----------------------------------------------------------------------------

def env_text() -> str:
    return f"# written by PowerShell\r\nGH_TOKEN={crc_token(RNG, 'ghp_')}\r\n" \
           f"DEPLOY={crc_token(RNG, 'gho_')}\r\n"


@pytest.mark.parametrize(("codec", "bom"), [
    ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"), ("utf-16-le", b""),
    ("utf-16-be", b""), ("utf-32-le", b"\xff\xfe\x00\x00"), ("utf-32-be", b""),
])
def test_utf16_and_utf32_env_files_are_decoded_and_scanned(codec: str, bom: bytes) -> None:
    scan = run(bom + env_text().encode(codec), ".env")
    assert scan.skipped is None
    assert [(h.rule_id, h.line) for h in scan.hits] == [
        ("secrets.github-pat", 2), ("secrets.github-oauth-token", 3)]


def test_utf16_text_without_secrets_and_real_binaries() -> None:
    readme = "Read me first.\nNothing to see here.\n"
    assert run(b"\xff\xfe" + readme.encode("utf-16-le")).hits == []
    assert run(b"\xff\xfe" + readme.encode("utf-16-le")).skipped is None
    binary = bytes([0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0]) + RNG.randbytes(2000) + bytes(64)
    assert run(binary).skipped == "binary"
    assert sources.decode_wide(bytes(range(256)) * 8) is None
