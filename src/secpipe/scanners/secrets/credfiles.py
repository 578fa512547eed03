"""Credential files known by name, each parsed by its own format.

Tools write credentials to files with fixed names: ``~/.netrc``, ``~/.pgpass``, ``~/.pypirc``,
``~/.docker/config.json``, ``~/.kaggle/kaggle.json``, ``~/.aws/credentials`` … Their values carry
no issuer prefix and often no keyword a rule could see (``.pgpass`` is five colon-separated
fields; a docker ``auth`` is base64 of ``user:password``), so :data:`FILES` maps file names to a
parser of that format. Each parser yields the credential and its line, so the finding points at
the credential line; empty values, placeholders and variable references are not findings.
A file's name changes what it holds, so results of such files are cached under a digest salted
with the format (:func:`salted_digest`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.secrets import checks
from secpipe.scanners.secrets.rules import Rule, rx

C, H, M = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM


@dataclass(frozen=True)
class Found:
    """One credential a parser found."""

    rule_id: str
    """Finding rule id (``secrets.…``)."""
    line: int
    """1-based line of the credential."""
    column: int
    """1-based column of its first character."""
    secret: str
    """The credential (hashed and redacted by the caller, never shown)."""
    end_line: int = 0
    """Last line when the credential spans several (a PuTTY key), else 0."""


Parser = Callable[[str], Iterator[Found]]
_DEFAULTS = frozenset({"password", "passwd", "pass", "secret", "changeme", "admin", "root",
                       "test", "guest", "user", "default", "none", "null", "true", "false"})
_ENV_REF = re.compile(r"^\$|^%[A-Za-z_]+%$|\$\{|\{\{|<[^>]*>")


def real(value: str) -> bool:
    """A value that may be a live credential: not empty, a reference, a placeholder or a default."""
    value = value.strip()
    return (len(value) >= 4 and value.lower() not in _DEFAULTS and not _ENV_REF.search(value)
            and not checks.is_placeholder(value) and not checks.is_documented_example(value))


def _pos(text: str, value: str, start: int = 0) -> tuple[int, int]:
    """(line, column) of ``value`` in ``text`` (line 1 when it cannot be found as written)."""
    at = text.find(value, start)
    if at < 0:
        return 1, 1
    return text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1


def _lines(text: str) -> Iterator[tuple[int, str]]:
    yield from enumerate(text.splitlines(), 1)


# --- parsers -------------------------------------------------------------------------------------

def netrc(text: str) -> Iterator[Found]:
    """``machine H login U password P`` over any number of lines; ``#`` comments."""
    want = False
    for i, line in _lines(text):
        if line.lstrip().startswith("#"):
            continue
        for m in re.finditer(r"\S+", line):
            if want and real(m.group()):
                yield Found("secrets.netrc-password", i, m.start() + 1, m.group())
            want = m.group() in ("password", "passwd")


def git_credentials(text: str) -> Iterator[Found]:
    """One ``scheme://user:password@host`` URL per line (the store of git's credential helper)."""
    for i, line in _lines(text):
        try:
            password = urlsplit(line.strip()).password
        except ValueError:
            continue
        if password and real(unquote(password)):
            yield Found("secrets.git-credentials", i, line.find(":" + password + "@") + 2,
                        unquote(password))


def pgpass(text: str) -> Iterator[Found]:
    """``host:port:database:user:password``; ``\\:`` and ``\\\\`` escape."""
    for i, line in _lines(text):
        if line.lstrip().startswith("#"):
            continue
        fields = re.split(r"(?<!\\):", line, maxsplit=4)
        if len(fields) == 5:
            value = fields[4].replace("\\:", ":").replace("\\\\", "\\")
            if value != "*" and real(value):
                yield Found("secrets.pgpass-password", i, len(line) - len(fields[4]) + 1, value)


def _ini(keys: dict[str, str]) -> Parser:
    """``key = value`` lines of an ini file whose key (lower-cased) is in ``keys`` -> rule id."""
    def parse(text: str) -> Iterator[Found]:
        for i, line in _lines(text):
            m = re.match(r"\s*([A-Za-z0-9_.-]+)\s*[=:]\s*(\S.*?)\s*$", line)
            if m is None or m.group(1).lower() not in keys:
                continue
            value = m.group(2).strip("\"'")
            if real(value):
                yield Found(keys[m.group(1).lower()], i, m.start(2) + 1, value)
    return parse


def npmrc(text: str) -> Iterator[Found]:
    """``_auth`` (base64 ``user:password``), ``_authToken`` and ``_password`` (base64), also
    scoped to a registry (``//host/:_authToken=…``)."""
    for i, line in _lines(text):
        m = re.match(r"\s*(?:\S*:)?(_auth|_authToken|_password)\s*=\s*(\S+)", line)
        if m is None:
            continue
        value = m.group(2).strip("\"'")
        shown = value
        if m.group(1) != "_authToken":
            decoded = _b64_text(value)
            shown = decoded.partition(":")[2] if m.group(1) == "_auth" and decoded else decoded
        if shown and real(shown) and real(value):
            yield Found("secrets.npmrc-auth", i, m.start(2) + 1, value)


def _b64_text(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return ""


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def kaggle(text: str) -> Iterator[Found]:
    """``{"username": …, "key": "<32 hex>"}``."""
    doc = _json(text)
    if isinstance(doc, dict) and isinstance(doc.get("key"), str) and real(doc["key"]):
        line, col = _pos(text, doc["key"])
        yield Found("secrets.kaggle-api-key", line, col, doc["key"])


def docker_config(text: str) -> Iterator[Found]:
    """``auths.<registry>.auth`` (base64 ``user:password``) and ``identitytoken``."""
    doc = _json(text)
    auths = doc.get("auths") if isinstance(doc, dict) else None
    if not isinstance(auths, dict):
        return
    for entry in auths.values():
        if not isinstance(entry, dict):
            continue
        for field in ("auth", "identitytoken", "registrytoken"):
            value = entry.get(field)
            if not isinstance(value, str) or not value:
                continue
            shown = _b64_text(value).partition(":")[2] if field == "auth" else value
            if shown and real(shown):
                line, col = _pos(text, value)
                yield Found("secrets.docker-config-auth", line, col, value)


def gcloud_adc(text: str) -> Iterator[Found]:
    """An ``authorized_user`` credential: ``refresh_token`` and ``client_secret``."""
    doc = _json(text)
    if not isinstance(doc, dict):
        return
    for field in ("refresh_token", "client_secret"):
        value = doc.get(field)
        if isinstance(value, str) and real(value):
            line, col = _pos(text, value)
            yield Found("secrets.gcloud-credentials", line, col, value)


def password_hashes(text: str) -> Iterator[Found]:
    """``user:hash`` of ``.htpasswd`` and ``user:hash:…`` of ``/etc/shadow``; locked (``!``,
    ``*``) and empty entries are not findings."""
    for i, line in _lines(text):
        fields = line.split(":")
        if len(fields) < 2 or line.lstrip().startswith("#"):
            continue
        value = fields[1].strip()
        if len(value) >= 13 and value[0] not in "!*" and " " not in value:
            yield Found("secrets.password-hash", i, len(fields[0]) + 2, value)


def putty(text: str) -> Iterator[Found]:
    """The ``Private-Lines: N`` block of a PuTTY ``.ppk`` key."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"Private-Lines:\s*([0-9]{1,4})\s*$", line)
        if m is None:
            continue
        body = lines[i + 1 : i + 1 + int(m.group(1))]
        material = "".join(b.strip() for b in body)
        if len(material) >= 32 and real(material):
            yield Found("secrets.putty-private-key", i + 2, 1, material, i + 1 + len(body))


def rails_master_key(text: str) -> Iterator[Found]:
    """The whole file is 32 hex digits."""
    value = text.strip()
    if re.fullmatch(r"[0-9a-f]{32}", value) and checks.entropy(value) >= 3.0:
        line, col = _pos(text, value)
        yield Found("secrets.rails-master-key", line, col, value)


_PASS_ELEMENT = re.compile(r"<Pass(?P<attrs>\s[^>]{0,80})?>(?P<v>[^<]{1,512})</Pass>")


def filezilla(text: str) -> Iterator[Found]:
    """``<Pass>`` elements (plain or ``encoding="base64"``), read by an expression on the known
    element rather than an XML parser (no entity expansion, bounded)."""
    for m in _PASS_ELEMENT.finditer(text):
        value = m.group("v").strip()
        shown = _b64_text(value) if "base64" in (m.group("attrs") or "") else value
        if shown and real(shown):
            line, col = _pos(text, value, m.start("v"))
            yield Found("secrets.filezilla-password", line, col, shown)


# --- the table: file names -> format -------------------------------------------------------------

@dataclass(frozen=True)
class CredFile:
    """One credential file format."""

    kind: str
    """Format name (salts the cache digest)."""
    names: tuple[str, ...]
    """File names (lower-case, exact) that have this format."""
    parse: Parser
    """Yields the credentials of a file's text."""
    parent: str = ""
    """Required name of the containing folder (``.aws`` for ``credentials``), if any."""
    suffix: str = ""
    """Alternatively, a file-name ending (``.ppk``)."""


FILES: tuple[CredFile, ...] = (
    CredFile("netrc", (".netrc", "_netrc"), netrc),
    CredFile("git-credentials", (".git-credentials",), git_credentials),
    CredFile("pgpass", (".pgpass", "pgpass.conf"), pgpass),
    CredFile("pypirc", (".pypirc",), _ini({"password": "secrets.pypirc-password"})),
    CredFile("aws-credentials", ("credentials", "config"), _ini({
        "aws_secret_access_key": "secrets.aws-secret-key",
        "aws_session_token": "secrets.aws-secret-key"}), parent=".aws"),
    CredFile("npmrc", (".npmrc", ".yarnrc"), npmrc),
    CredFile("kaggle", ("kaggle.json",), kaggle),
    CredFile("docker-config", ("config.json",), docker_config, parent=".docker"),
    CredFile("gcloud-adc", ("application_default_credentials.json", "adc.json"), gcloud_adc),
    CredFile("password-hashes", (".htpasswd", "htpasswd", "shadow", "shadow-", "gshadow",
                                 "master.passwd"), password_hashes, suffix=".htpasswd"),
    CredFile("putty", (), putty, suffix=".ppk"),
    CredFile("rails-master-key", ("master.key",), rails_master_key),
    CredFile("rails-env-key", (), rails_master_key, parent="credentials", suffix=".key"),
    CredFile("filezilla", ("sitemanager.xml", "recentservers.xml", "filezilla.xml"), filezilla),
)

_BY_NAME = {name: f for f in FILES for name in f.names}


def credential_file(path: str | None) -> CredFile | None:
    """The credential-file format of ``path`` (by its name and folder), or None."""
    if not path:
        return None
    parts = path.replace("\\", "/").rsplit("!", 1)[-1].lower().rsplit("/", 2)
    name, parent = parts[-1], (parts[-2] if len(parts) > 1 else "")
    found = _BY_NAME.get(name)
    if found is not None and (not found.parent or found.parent == parent):
        return found
    for f in FILES:
        if f.suffix and name.endswith(f.suffix) and (not f.parent or f.parent == parent):
            return f
    return None


def salted_digest(digest: str, fmt: CredFile | None) -> str:
    """The cache key of a file's results: its content digest, salted with its format."""
    if fmt is None:
        return digest
    return hashlib.sha256(f"{fmt.kind}:{digest}".encode()).hexdigest()


def _file_rule(id: str, title: str, severity: Severity) -> Rule:
    """A rule reported only by the parsers above (no keywords: the detector never runs it)."""
    return Rule(id=id, title=title, severity=severity, keywords=(), pattern=rx(r"(?!)"),
                confidence=Confidence.HIGH, category="credential-file")


RULES: tuple[Rule, ...] = (
    _file_rule("netrc-password", "Password in a .netrc file", H),
    _file_rule("git-credentials", "Password or token in a .git-credentials URL", H),
    _file_rule("pgpass-password", "Password in a PostgreSQL .pgpass file", H),
    _file_rule("pypirc-password", "Password in a .pypirc file", H),
    _file_rule("npmrc-auth", "Registry credentials in an .npmrc file", H),
    _file_rule("docker-config-auth", "Registry credentials in a docker config.json", H),
    _file_rule("gcloud-credentials", "Google Cloud user credentials (refresh token)", H),
    _file_rule("password-hash", "Password hash (.htpasswd, shadow)", M),
    _file_rule("putty-private-key", "PuTTY private key", C),
    _file_rule("rails-master-key", "Rails master key", H),
    _file_rule("filezilla-password", "Password saved by FileZilla", H),
)
