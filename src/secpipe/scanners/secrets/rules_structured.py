"""Format rules for structured secrets: private keys, JWTs, URLs with credentials, webhooks."""

from __future__ import annotations

import json
import re

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.secrets import checks
from secpipe.scanners.secrets.rules import R_URLSAFE, Rule, Validator, rx

C, H, M = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM

_PEM = (
    r"-----BEGIN (?P<label>[A-Z0-9]+(?: [A-Z0-9]+)*? )?PRIVATE KEY(?: BLOCK)?-----"
    r"(?P<s>[\s\S]{40,16000}?)"
    r"-----END (?:[A-Z0-9]+ )*?PRIVATE KEY(?: BLOCK)?-----"
)
_B64_ONLY = re.compile(r"[^A-Za-z0-9+/=]")
_ARMOR_HEADER = re.compile(r"^[A-Za-z-]+: .*$", re.MULTILINE)
_ESCAPES = re.compile(r"\\[nr]")
_QUOTING = re.compile(r"^\s*\+?\s*[\"'`]|[\"'`]\s*\+?\s*[,;]?\s*$")


def key_material(body: str) -> str:
    """The base64 key material of a PEM/OpenSSH/PGP body, whatever the quoting around it."""
    body = _ESCAPES.sub("\n", body)
    body = _ARMOR_HEADER.sub("", body)
    lines = [_QUOTING.sub("", ln).strip() for ln in body.splitlines()]
    lines = [ln for ln in lines if ln and not (ln.startswith("=") and len(ln) <= 6)]
    return _B64_ONLY.sub("", "".join(lines))


def _private_key(secret: str, m: re.Match[str]) -> bool:
    material = key_material(secret)
    low = secret.lower()
    if len(material) < 64 or any(w in low for w in ("...", "xxxx", "<", ">", "{{", "${")):
        return False
    raw = checks.b64_decode(material.rstrip("=") + "=" * (-len(material.rstrip("=")) % 4))
    return raw is not None and len(raw) >= 48 and checks.entropy(material) >= 4.5


def _jwt(secret: str, m: re.Match[str]) -> bool:
    if checks.is_documented_example(secret) or not checks.jwt_header_ok(secret):
        return False
    raw = checks.b64url_decode(secret.split(".")[1])
    if raw is None:
        return False
    try:
        claims = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    # a token a service issued carries registered claims; {"some": "payload"} is a doc example
    return isinstance(claims, dict) and bool(_REGISTERED_CLAIMS & set(claims))


_REGISTERED_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti"})


_DEFAULT_PASSWORDS = frozenset({
    "password", "pass", "passwd", "secret", "postgres", "mysql", "root", "admin", "changeme",
    "test", "user", "guest", "redis", "mongo", "rabbitmq", "example", "demo", "default",
})  # fmt: skip


def _url_password(strict: bool) -> Validator:
    def check(secret: str, m: re.Match[str]) -> bool:
        if len(secret) < 6 or secret.lower() in _DEFAULT_PASSWORDS:
            return False
        if secret == m.group("user") or checks.is_placeholder(secret):
            return False
        if checks.is_test_value(secret):
            return False
        return not strict or checks.random_enough(secret, 2.5)

    return check


def _url(id: str, title: str, severity: Severity, keywords: tuple[str, ...], scheme: str,
         strict: bool = False) -> Rule:
    pattern = (
        r"(?<![A-Za-z0-9+.-])" + scheme + r"://(?P<user>[^\s:@/'\"`<>]{1,64}):"
        r"(?P<s>[^\s@/:,'\"`<>]{1,128})@[A-Za-z0-9_.\[\]-]+"
    )
    return Rule(id=id, title=title, severity=severity, keywords=keywords, pattern=rx(pattern),
                validate=_url_password(strict), after=320, category="structured",
                before=0 if keywords != ("://",) else 40,
                confidence=Confidence.HIGH if not strict else Confidence.MEDIUM)


def _azure_key(secret: str, m: re.Match[str]) -> bool:
    raw = checks.b64_decode(secret)
    return raw is not None and len(raw) == 64 and _real(secret, m)


def _real(secret: str, m: re.Match[str]) -> bool:
    return not checks.is_placeholder(secret) and not checks.is_documented_example(secret)


def _basic_auth(secret: str, m: re.Match[str]) -> bool:
    raw = checks.b64_decode(secret)
    if raw is None or b":" not in raw:
        return False
    try:
        user, _, password = raw.decode("utf-8").partition(":")
    except UnicodeDecodeError:
        return False
    return (bool(user) and password.isprintable() and len(password) >= 6
            and password.lower() not in _DEFAULT_PASSWORDS and not checks.is_placeholder(password))


def _bearer(secret: str, m: re.Match[str]) -> bool:
    return (_real(secret, m) and any(c.isdigit() for c in secret)
            and checks.random_enough(secret, 3.5, 2))


RULES: tuple[Rule, ...] = (
    Rule("private-key", "Private key", C, ("-----begin",), rx(_PEM), validate=_private_key,
         after=16100, multiline=True, category="structured", normalize=key_material),
    Rule("jwt", "JSON Web Token", M, ("eyj",),
         rx(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,2000}\.eyJ[A-Za-z0-9_-]{8,4000}\."
            r"[A-Za-z0-9_-]{8,2000}" + R_URLSAFE),
         validate=_jwt, after=8100, category="structured"),
    _url("postgres-url", "PostgreSQL URL with a password", C, ("postgres",),
         r"postgres(?:ql)?(?:\+[a-z0-9]+)?"),
    _url("mysql-url", "MySQL/MariaDB URL with a password", C, ("mysql", "mariadb"),
         r"(?:mysql|mariadb)(?:\+[a-z0-9]+)?"),
    _url("mongodb-url", "MongoDB URL with a password", C, ("mongodb",), r"mongodb(?:\+srv)?"),
    _url("redis-url", "Redis URL with a password", H, ("redis",), r"rediss?"),
    _url("amqp-url", "AMQP (RabbitMQ) URL with a password", H, ("amqp",), r"amqps?"),
    _url("url-password", "URL with embedded credentials", M, ("://",),
         r"[a-z][a-z0-9+.-]{1,20}", strict=True),
    Rule("slack-webhook-url", "Slack incoming webhook", H, ("hooks.slack.com",),
         rx(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/T[A-Z0-9]{8,12}/"
            r"[A-Z0-9]{8,12}/[A-Za-z0-9]{23,32}"), validate=_real, category="chat", before=10,
         after=160),
    Rule("discord-webhook-url", "Discord webhook", H, ("/api/webhooks/",),
         rx(r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/"
            r"[A-Za-z0-9_-]{60,72}" + R_URLSAFE), validate=_real, before=40, after=120,
         category="chat"),
    Rule("sentry-dsn", "Sentry DSN with its key", M, ("sentry.io",),
         rx(r"https://(?P<s>[a-f0-9]{32})(?::[a-f0-9]{32})?@o?[0-9]*\.?ingest\.(?:[a-z]{2}\.)?"
            r"sentry\.io/[0-9]+"), validate=_real, before=90, after=40, category="saas"),
    Rule("basic-auth-credentials", "HTTP Basic credentials", H, ("basic ",),
         rx(r"(?i:basic)[ \t]+(?P<s>[A-Za-z0-9+/]{8,400}={0,2})(?![A-Za-z0-9+/=])"),
         validate=_basic_auth, after=420, category="structured"),
    Rule("bearer-token", "Bearer token in a header", M, ("bearer ",),
         rx(r"(?i:bearer)[ \t]+(?P<s>[A-Za-z0-9._~+/-]{20,500}=*)(?![A-Za-z0-9._~+/=-])"),
         validate=_bearer, after=520, priority=1, confidence=Confidence.MEDIUM,
         category="structured"),
    Rule("azure-storage-connection-string", "Azure storage account key in a connection string", C,
         ("accountkey=",),
         rx(r"AccountKey=(?P<s>[A-Za-z0-9+/]{86}==)"), validate=_azure_key, after=110,
         category="cloud"),
)  # fmt: skip
