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
import bisect
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any
from urllib.parse import unquote

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.secrets import checks
from secpipe.scanners.secrets.rules import Rule, rx

try:  # accelerator, as in detect.py
    import re2 as _re2  # type: ignore[import-untyped, import-not-found, unused-ignore]
except ImportError:  # pragma: no cover - exercised only without google-re2
    _re2 = None

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
    """A value that may be a live credential: not empty, a reference, a placeholder or a default
    (for fields that may hold tokens as well as typed passwords)."""
    value = value.strip()
    return (len(value) >= 4 and value.lower() not in _DEFAULTS and not _ENV_REF.search(value)
            and not checks.is_placeholder(value) and not checks.is_documented_example(value))


#: Values that stand for "no password here" in a field that holds one.
_NO_VALUE = frozenset({
    "changeme", "change_me", "change-me", "placeholder", "redacted", "replace_me", "replaceme",
    "none", "null", "nil", "undefined", "empty", "todo", "fixme", "tbd", "required", "optional",
    "true", "false", "yes", "no", "string", "password_here", "secret_here",
})  # fmt: skip
_TEMPLATE = re.compile(
    r"^\$[A-Za-z_({]|^%[A-Za-z_]+%$|\$\{|\{\{|\}\}|^<[^>]*>$|^&lt;.*&gt;$|^#\{|^@[A-Za-z_]+@$|"
    r"\byour[ _-]|[ _-]here$|^ENC\(|^\(?(?:encrypted|hidden|masked|removed)\)?$",
    re.IGNORECASE,
)
_MASK = re.compile(r"^(.)\1{2,}$|^[*\u2022x.#?-]{3,}$", re.IGNORECASE)


def present(value: str) -> bool:
    """A value stored in a field whose meaning is "the password" (a credential file's own
    field): anything typed there is a credential, however weak, except an empty field, a
    reference or template (``$VAR``, ``${…}``, ``{{…}}``, ``<password>``), a mask (``****``) or
    a word that means "none" (``changeme``, ``your_password``, ``null``)."""
    value = value.strip()
    return (len(value) >= 3 and value.lower() not in _NO_VALUE and not _TEMPLATE.search(value)
            and not _MASK.match(value))


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
            if want and present(m.group()):
                yield Found("secrets.netrc-password", i, m.start() + 1, m.group())
            want = m.group() in ("password", "passwd")


def git_credentials(text: str) -> Iterator[Found]:
    """One ``scheme://user:password@host`` URL per line (the store of git's credential helper).
    Read by hand rather than by a URL parser: a hand-written line may leave ``@``, ``#`` or
    ``:`` unescaped in the password, so the host follows the *last* ``@`` and the user ends at
    the first ``:``."""
    for i, line in _lines(text):
        scheme, sep, rest = line.strip().partition("://")
        if not sep or not scheme.isalnum() or "@" not in rest:
            continue
        userinfo = rest.rpartition("@")[0]
        user, colon, password = userinfo.partition(":")
        if colon and present(unquote(password)):
            yield Found("secrets.git-credentials", i, line.find(userinfo) + len(user) + 2,
                        unquote(password))


def pgpass(text: str) -> Iterator[Found]:
    """``host:port:database:user:password``; ``\\:`` and ``\\\\`` escape."""
    for i, line in _lines(text):
        if line.lstrip().startswith("#"):
            continue
        fields = re.split(r"(?<!\\):", line, maxsplit=4)
        if len(fields) == 5:
            value = fields[4].replace("\\:", ":").replace("\\\\", "\\")
            if value != "*" and present(value):
                yield Found("secrets.pgpass-password", i, len(line) - len(fields[4]) + 1, value)


def _ini(keys: dict[str, str], check: Callable[[str], bool] = real) -> Parser:
    """``key = value`` lines of an ini file whose key (lower-cased) is in ``keys`` -> rule id."""
    def parse(text: str) -> Iterator[Found]:
        for i, line in _lines(text):
            m = re.match(r"\s*([A-Za-z0-9_.-]+)\s*[=:]\s*(\S.*?)\s*$", line)
            if m is None or m.group(1).lower() not in keys:
                continue
            value = m.group(2).strip("\"'")
            if check(value):
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
        if shown and present(shown) and present(value):
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
            if shown and present(shown):
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
        if shown and present(shown):
            line, col = _pos(text, value, m.start("v"))
            yield Found("secrets.filezilla-password", line, col, shown)


# --- keyed values: one reader for JSON, XML, ini/rc/env/YAML and code-literal layouts -----------

#: Longest value read as a keyed credential.
_MAX_VALUE = 512


_N = "{0," + str(_MAX_VALUE) + "}"


@cache
def _keyed_patterns(key: str, spaced: bool) -> tuple[re.Pattern[str], ...]:
    """Where the value of a key matching ``key`` (an expression, no groups) may stand (compiled
    on first use: a scan that meets no such file does not pay for them)."""
    line_sep = r"(?:[ \t]*(?::=|=>|[=:])[ \t]*" + (r"|[ \t]+" if spaced else "") + ")"
    return tuple(re.compile(p, re.IGNORECASE | re.MULTILINE) for p in (
        # JSON member, also a quoted key in a code literal: "key": "value"
        r'"(?P<k>' + key + r')"[ \t]*:[ \t]*"(?P<v>(?:[^"\\\n]|\\.)' + _N + ')"',
        # XML attribute or quoted assignment: key="value" / key='value'
        r"(?<![\w.:-])(?P<k>" + key + r")[ \t]*=[ \t]*(?P<q>[\"'])(?P<v>[^\"'\n]" + _N
        + r")(?P=q)",
        # XML element: <key attrs>value</key>
        r"<(?P<k>" + key + r")(?:[ \t][^>\n]{0,200})?>(?P<v>[^<\n]" + _N + r")</(?P=k)[ \t]*>",
        # code literals: 'key' => 'value', {'key': 'value'}, define('KEY', 'value') (a call's
        # first two arguments, not two neighbours in a list of strings)
        r"(?P<kq>[\"'])(?P<k>" + key + r")(?P=kq)[ \t]*(?:=>|:)[ \t]*(?P<q>[\"'])"
        r"(?P<v>[^\"'\n]" + _N + r")(?P=q)",
        r"\([ \t]*(?P<kq>[\"'])(?P<k>" + key + r")(?P=kq)[ \t]*,[ \t]*(?P<q>[\"'])"
        r"(?P<v>[^\"'\n]" + _N + r")(?P=q)",
        # a line of ini, rc, env, properties or YAML: key = value, key: value (or key value)
        r"^[ \t]*(?:export[ \t]+|-[ \t]+)?\$?(?P<k>" + key + r")" + line_sep
        + r"(?P<q>[\"']?)(?P<v>[^\n]" + _N + r"?)(?P=q)[ \t]*;?[ \t]*$",
    ))


def keyed_values(text: str, patterns: tuple[re.Pattern[str], ...],
                 spans: list[tuple[int, int]] | None = None) -> Iterator[tuple[str, str, int]]:
    """(key, value, offset of the value) of every keyed value ``patterns`` find, each place once,
    in text order; only inside ``spans`` (whole lines) when given."""
    seen: dict[int, tuple[str, str, int]] = {}
    for pattern in patterns:
        for m in (m for start, end in (spans if spans is not None else [(0, len(text))])
                  for m in pattern.finditer(text, start, end)):
            value = m.group("v")
            start = m.start("v")
            if value.strip() and start not in seen:
                seen[start] = (m.group("k"), value, start)
    for start in sorted(seen):
        yield seen[start]


class _Where:
    """(line, column) of offsets in one text: the line starts are found once, on first use, so
    a file with many findings costs one pass, not one pass per finding."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts: list[int] = []

    def __call__(self, offset: int) -> tuple[int, int]:
        if not self.starts:
            self.starts = [0, *(m.end() for m in re.finditer("\n", self.text))]
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1


def _unescape(value: str) -> str:
    return value.replace('\\"', '"').replace("\\\\", "\\").strip()


def keyed(rule_id: str, key: str, check: Callable[[str], bool] = present,
          spaced: bool = False) -> Parser:
    """A parser of a tool's file whose fields named ``key`` hold passwords: each present value
    is reported at its line, whatever the layout (JSON, XML attribute or element, ini/rc line)."""
    def parse(text: str) -> Iterator[Found]:
        where = _Where(text)
        for _k, value, start in keyed_values(text, _keyed_patterns(key, spaced)):
            value = _unescape(value)
            if check(value):
                line, col = where(start)
                yield Found(rule_id, line, col, value)
    return parse


#: The eight WordPress keys and salts, and its database password.
_WP_KEYS = (r"(?:AUTH|SECURE_AUTH|LOGGED_IN|NONCE)_(?:KEY|SALT)|DB_PASSWORD")


def wordpress(text: str) -> Iterator[Found]:
    """``define('AUTH_KEY', '…')`` … and ``define('DB_PASSWORD', '…')`` of ``wp-config.php``;
    the sample file's ``put your unique phrase here`` is a placeholder."""
    where = _Where(text)
    for m in re.finditer(r"define\([ \t]*(?P<kq>[\"'])(?P<k>" + _WP_KEYS + r")(?P=kq)[ \t]*,"
                         r"[ \t]*(?P<q>[\"'])(?P<v>[^\n]{0,512}?)(?P=q)[ \t]*\)", text):
        value = m.group("v")
        db = m.group("k") == "DB_PASSWORD"
        # keys and salts are 64 random printable characters, braces and all
        if present(value) if db else (len(value) >= 16 and not _MASK.match(value)
                                      and "unique phrase" not in value.lower()):
            rule = "secrets.wordpress-password" if db else "secrets.wordpress-key"
            line, col = where(m.start("v"))
            yield Found(rule, line, col, value)


def _stored(value: str) -> bool:
    """An encrypted or scrambled stored password: long enough to hold one."""
    return len(value) >= 8 and present(value)


def whole_file(rule_id: str) -> Callable[[bytes], Iterator[Found]]:
    """A store whose whole content is the credentials (encrypted with a key anyone can get, such
    as DBeaver's ``credentials-config.json``): one finding at its first line when not empty."""
    def parse(data: bytes) -> Iterator[Found]:
        if data.strip():
            yield Found(rule_id, 1, 1, hashlib.sha256(data).hexdigest())
    return parse


#: Key names that mean "the password" in the tools' own files (whole key, any case).
_PW_KEY = r"(?:[a-z]{0,12}_?)?(?:password|passwd|pass|passphrase)"


def config_passwords(text: str) -> Iterator[Found]:
    """Configuration files (JSON, XML, YAML, ini, env, properties, PHP/Python config): a key named
    like a password whose value is a literal. The name must *be* a password (``db_password``,
    ``adminPassword``, ``$dbpasswd``), not describe one (``password_file``,
    ``password_min_length``); the value is any typed password except references, templates,
    masks, well-known defaults and test values, and values equal to (part of) their own key."""
    spans = _hint_lines(text)
    if not spans:
        return
    where = _Where(text)
    for key, value, start in keyed_values(text, _keyed_patterns(_CONFIG_KEY, False), spans):
        value = _unescape(value)
        if _config_key(key) and _config_value(value, key):
            line, col = where(start)
            yield Found("secrets.config-password", line, col, value)


_HINT = "(?i)pass|pwd"
_HINT_RE2: Any = _re2.compile(_HINT.encode()) if _re2 is not None else None


def _hint_lines(text: str) -> list[tuple[int, int]]:
    """Spans of the lines holding ``pass`` or ``pwd`` in any case: the only lines where a key
    named like a password may stand (one RE2 pass over ASCII text; most configuration files
    have none, and the keyed expressions then run on a few lines, not on the whole file;
    each line once, so the work stays linear in the file's size)."""
    if _HINT_RE2 is not None and text.isascii():
        found = (m.start() for m in _HINT_RE2.finditer(text.encode("ascii")))
    else:
        found = (m.start() for m in re.finditer(r"pass|pwd", text, re.IGNORECASE))
    spans: list[tuple[int, int]] = []
    for at in found:
        if spans and at < spans[-1][1]:
            continue
        start = text.rfind("\n", 0, at) + 1
        end = text.find("\n", at)
        spans.append((start, len(text) if end < 0 else end))
    return spans
_CONFIG_KEY = r"[A-Za-z0-9_.-]{0,40}(?:pass(?:word|wd|wort|phrase)?|pwd)"
_KEY_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
#: Words that, in a key, say its value describes a password rather than being one.
_NOT_THE_PASSWORD = frozenset({
    "hash", "hashed", "digest", "salt", "env", "var", "file", "path", "url", "uri", "id", "name",
    "ref", "reset", "change", "changed", "forgot", "forget", "remember", "save", "show", "hide",
    "ask", "prompt", "require", "required", "use", "enable", "enabled", "disable", "no", "skip",
    "policy", "encoder", "algorithm", "type", "mode", "field", "label", "hint", "placeholder",
    "pattern", "regex", "rule", "validator", "min", "max", "length", "bypass", "compass",
    "passive", "passport", "passenger", "passage", "passthrough", "template", "format", "helper",
    "command", "cmd", "script", "plugin", "provider", "expiry", "expires", "age", "ttl",
    "timeout", "history", "lifetime", "retries", "attempts", "count", "strength", "generate",
    "random", "one", "time", "otp", "input", "output",
})  # fmt: skip
_PW_WORDS = frozenset({"password", "passwd", "pass", "pwd", "passphrase", "passwort", "pw"})
_CONFIG_DEFAULTS = frozenset({
    "password", "passwd", "pass", "secret", "admin", "root", "test", "guest", "user", "default",
    "postgres", "mysql", "redis", "mongo", "rabbitmq", "example", "demo", "sample", "toor",
    "123456", "1234567", "12345678", "qwerty", "letmein", "welcome", "master", "sa", "oracle",
})  # fmt: skip


def _config_key(key: str) -> bool:
    words = [w.lower() for part in re.split(r"[^A-Za-z0-9]+", key)
             for w in _KEY_WORDS.findall(part)]
    if not words or any(w in _NOT_THE_PASSWORD for w in words):
        return False
    last = words[-1]
    return last in _PW_WORDS or last.endswith(("password", "passwd", "passphrase"))


def _config_value(value: str, key: str) -> bool:
    low = value.lower()
    if len(value) < 6 or not present(value) or low in _CONFIG_DEFAULTS:
        return False
    if low in key.lower() or checks.is_placeholder(value) or checks.is_test_value(value):
        return False
    if re.search(r"[\s(){}\[\]]|^[/~.]|://|\\", value):  # code, paths, URLs, prose
        return False
    if value.isdigit():
        return False
    # a Kubernetes Secret's data is base64: judge the text it encodes as well
    decoded = _b64_text(value) if len(value) % 4 == 0 and len(value) >= 8 else ""
    return not (decoded and decoded.isprintable() and not _config_value(decoded, key))


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
    raw: Callable[[bytes], Iterator[Found]] | None = None
    """For a store that is not text (an encrypted file): its parser of bytes."""


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
    # mail and chat clients: rc lines, ``password "…"`` or ``password …``
    CredFile("mail-rc", (".esmtprc", "esmtprc", ".msmtprc", "msmtprc", ".fetchmailrc",
                         ".muttrc"),
             keyed("secrets.tool-config-password", r"password|passwd|pass", spaced=True)),
    # editor and IDE upload/sync configs (Atom, Sublime SFTP, VS Code SFTP, Remote Sync)
    CredFile("sftp-config", ("sftp-config.json", "sftp-settings.json", ".ftpconfig",
                             ".remote-sync.json", "deployment-config.json", "sftp.json",
                             ".ftppass"),
             keyed("secrets.tool-config-password", _PW_KEY)),
    CredFile("jetbrains", ("webservers.xml", "datasources.xml", "datasources.local.xml",
                           "sshconfigs.xml", "deployment.xml"),
             keyed("secrets.jetbrains-password", r"password", _stored), parent=".idea"),
    CredFile("dbeaver-sources", ("data-sources.xml", "data-sources.json",
                                 "dbeaver-data-sources.xml"),
             keyed("secrets.tool-config-password", r"password")),
    CredFile("dbeaver-credentials", ("credentials-config.json",), keyed(
        "secrets.tool-config-password", r"password"), parent=".dbeaver",
        raw=whole_file("secrets.dbeaver-credentials")),
    CredFile("robomongo", ("robomongo.json", "robo3t.json", "3t.json"),
             keyed("secrets.tool-config-password", r"(?:ssh)?(?:user)?(?:password|passphrase)")),
    CredFile("ventrilo", ("ventrilo_srv.ini",),
             keyed("secrets.tool-config-password", r"(?:admin)?password")),
    CredFile("mysql-client", (".my.cnf", "my.cnf", ".mylogin.cnf"),
             keyed("secrets.tool-config-password", r"password")),
    CredFile("firefox-logins", ("logins.json", "signons.json"),
             keyed("secrets.firefox-saved-login", r"encryptedPassword", _stored)),
    CredFile("wordpress", ("wp-config.php",), wordpress),
)

#: Extensions and names of configuration files, read by :func:`config_passwords`.
CONFIG_EXTENSIONS = frozenset({
    ".json", ".json5", ".jsonc", ".xml", ".yaml", ".yml", ".ini", ".cfg", ".conf", ".config",
    ".cnf", ".properties", ".env", ".toml", ".plist", ".tfvars", ".rc",
})  # fmt: skip
#: Code files read as configuration when their name or folder says they are settings.
CONFIG_CODE_EXTENSIONS = frozenset({".php", ".py", ".rb", ".js", ".ts"})
_CONFIG_NAMES = re.compile(r"config|conf\b|settings|database|credential", re.IGNORECASE)
CONFIG = CredFile("config", (), config_passwords)
_EXAMPLE_NAMES = re.compile(r"example|sample|template|\.dist\b|\.tpl\b|skel", re.IGNORECASE)

_BY_NAME = {name: f for f in FILES for name in f.names}


_SUFFIXES = tuple(f.suffix for f in FILES if f.suffix)


@lru_cache(maxsize=1024)  # a file's path is looked up for its cache key, then for its scan
def credential_file(path: str | None) -> CredFile | None:
    """The credential-file format of ``path`` (by its name and folder), or None."""
    if not path:
        return None
    parts = path.replace("\\", "/").rsplit("!", 1)[-1].lower().rsplit("/", 2)
    name, parent = parts[-1], (parts[-2] if len(parts) > 1 else "")
    found = _BY_NAME.get(name)
    if found is not None and (not found.parent or found.parent == parent):
        return found
    if name.endswith(_SUFFIXES):
        for f in FILES:
            if f.suffix and name.endswith(f.suffix) and (not f.parent or f.parent == parent):
                return f
    stem, dot, ext = name.rpartition(".")
    ext = dot + ext if dot else ""
    if _EXAMPLE_NAMES.search(name):  # .env.example, config.sample.yml: documentation by intent
        return None
    if name.startswith(".env") or ext in CONFIG_EXTENSIONS:
        return CONFIG
    if ext in CONFIG_CODE_EXTENSIONS and (_CONFIG_NAMES.search(stem) or
                                          _CONFIG_NAMES.search(parent)):
        return CONFIG
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
    _file_rule("putty-private-key", "PuTTY private key", C),
    _file_rule("rails-master-key", "Rails master key", H),
    _file_rule("filezilla-password", "Password saved by FileZilla", H),
    _file_rule("tool-config-password", "Password saved in a tool's connection settings", H),
    _file_rule("jetbrains-password", "Password saved (scrambled) by a JetBrains IDE", H),
    _file_rule("dbeaver-credentials", "DBeaver saved connection credentials (encrypted with a "
               "published key)", H),
    _file_rule("firefox-saved-login", "Firefox saved login (encrypted password)", M),
    _file_rule("wordpress-key", "WordPress authentication key or salt", H),
    _file_rule("wordpress-password", "WordPress database password", H),
    Rule(id="config-password", title="Password in a configuration file", severity=M,
         keywords=(), pattern=rx(r"(?!)"), confidence=Confidence.MEDIUM,
         category="credential-file"),
)
