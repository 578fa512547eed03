"""What the Dockerfile and Compose checks share: reading a file within the budget, telling a
secret-looking name or value apart, redacting."""

from __future__ import annotations

import re
from pathlib import Path

from secpipe.core.errors import ConfigError
from secpipe.core.safeload import read_regular_file
from secpipe.scanners.iac.model import Budget, IacFile, Problem
from secpipe.scanners.secrets import checks
from secpipe.scanners.secrets.engine import detector
from secpipe.tools.redact import redact_tokens

MAX_VALUE_CHARS = 4096
"""Longest ENV/ARG/environment value looked at for a known key shape."""

_SECRET_NAME = re.compile(
    r"(?i)(passw(or)?d|passwd|(^|_)pwd($|_)|secret|token(?!iz)|api_?key|apikey|access_?key|"
    r"private_?key|client_?secret|auth_?key|credentials?|signing_?key|encryption_?key|"
    r"master_?key|session_?key|(app|jwt|hmac|licen[cs]e|cookie|stripe|sendgrid|mailgun|twilio|"
    r"ssh)_?key|(^|_)dsn$|connection_?string)")
_NOT_SECRET_NAME = re.compile(
    r"(?i)(_(file|path|dir|url|uri|endpoint|host|port|user|username|name|id|length|len|ttl|"
    r"expiry|expires|timeout|type|header|enabled|enable|disabled|required|version|algorithm|"
    r"alg|size|prefix|policy|mode|location|env|var|field|key_id|rotation|days|hours|seconds|"
    r"count|min|max|format|provider|region|issuer|audience|expiration|lifetime|interval|"
    r"retries|bits|rounds|cost|method|scheme|store|backend|kind|class|source)$)|"
    r"(^(no|skip|disable)_)")
_BOOLISH = frozenset({"true", "false", "yes", "no", "on", "off", "0", "1", "none", "null", "nil",
                      "''", '""', "-", "*"})


def secret_name(name: str) -> bool:
    """A variable named like a secret (``DB_PASSWORD``, ``NPM_TOKEN``, ``API_KEY``), but not a
    name that holds something about one (``DB_PASSWORD_FILE``, ``TOKEN_URL``, ``API_KEY_ID``)."""
    name = name.replace("-", "_").replace(".", "_")
    return bool(_SECRET_NAME.search(name)) and not _NOT_SECRET_NAME.search(name)


def literal_value(value: str) -> bool:
    """A literal worth calling a secret: not empty, not a reference (``$VAR``, ``${VAR}``), not
    a boolean or number placeholder, not a path."""
    text = value.strip().strip("'\"").strip()
    if not text or text.lower() in _BOOLISH or len(text) < 4:
        return False
    if text.startswith(("$", "/", "./", "~/", "file:", "@")):
        return False
    if re.fullmatch(r"[0-9]{1,5}", text):
        return False  # a count, port or duration; six digits and more can be a PIN/password
    return not (text.startswith("{{") and text.endswith("}}"))


def known_key_shape(value: str) -> str:
    """The secret-scanner rule a value matches by its shape (``secrets.aws-access-key``),
    else ''. Documented example keys do not match."""
    text = value.strip().strip("'\"")[:MAX_VALUE_CHARS]
    if len(text) < 8:
        return ""
    for cand in detector().find(text):
        return cand.rule.rule_id
    return ""


_URL_CREDENTIAL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://([^/\s:@]+):([^/\s@]+)@")


def url_password(value: str) -> str:
    """The literal password of a URL with credentials (``postgres://app:pw@db/app``), else ''
    (none, or a ``${VAR}`` reference)."""
    match = _URL_CREDENTIAL.search(value)
    if not match or "$" in match.group(2) or not literal_value(match.group(2)):
        return ""
    return match.group(2)


def weak_value(value: str) -> bool:
    """A made-up or placeholder value (``changeme``, ``example``, ``P@ssw0rd``): still
    reported, with low confidence."""
    return checks.is_placeholder(value) or checks.is_test_value(value)


def redact(value: str) -> str:
    """A redacted form of a secret value, safe to show."""
    return checks.redact(value.strip().strip("'\""))


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s:@]*):([^/\s@]+)@")
_AUTH_HEADER = re.compile(r"(?i)((?:authorization|private-token|x-api-key|token)\s*[:=]\s*"
                          r"(?:bearer\s+|token\s+|basic\s+)?)([^\s'\"]{4,})")


def scrub(text: str) -> str:
    """``text`` safe to show: URL passwords, auth header values and long random tokens
    masked."""
    text = _USERINFO.sub(lambda m: f"{m.group(1)}{m.group(2)}:****@", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}****", text)
    return redact_tokens(text)


def read_file(file: IacFile, budget: Budget, problems: list[Problem],
              cap: int | None = None) -> bytes | None:
    """The file's bytes within ``budget.max_file_bytes`` (and ``cap``, when smaller); a refusal
    becomes a problem."""
    limit = min(budget.max_file_bytes, cap) if cap is not None else budget.max_file_bytes
    if file.size > limit:
        problems.append(Problem("iac.too-large", file.rel, None,
                                f"{file.size} bytes is over the {limit}-byte budget: not "
                                "analysed"))
        return None
    try:
        return read_regular_file(Path(file.path), limit, file.rel)
    except ConfigError as exc:
        text = str(exc)
        rule = "iac.too-large" if "too large" in text else "iac.parse-error"
        problems.append(Problem(rule, file.rel, None, f"{text}: not analysed"))
        return None


def decode(data: bytes, rel: str, problems: list[Problem]) -> str | None:
    """UTF-8 text (a BOM dropped, bad bytes replaced); NUL bytes mean a binary file."""
    if b"\x00" in data:
        problems.append(Problem("iac.parse-error", rel, None,
                                "binary content (NUL bytes): not analysed"))
        return None
    return data.decode("utf-8", errors="replace").removeprefix("\ufeff")


def line_of_error(message: str) -> int | None:
    """The line a :class:`ConfigError` message names (``… line 12: …``)."""
    match = re.search(r" line (\d+):", message)
    return int(match.group(1)) if match else None
