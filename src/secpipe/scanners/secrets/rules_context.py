"""Context rules (prefix-less keys named by their issuer) and generic assignment rules.

A context rule's keyword is the issuer's name (``wandb``, ``twilio``, ``kaggle`` …); its value
expression is searched on the same line, after the keyword. A generic rule matches
``<name containing password/secret/token/api key> <=|:|:=|=>> <value>`` and keeps the value only
when it looks machine-made or typed as a password, and is none of: a placeholder, a variable or
function reference, an identifier, a hash, a UUID, or a token another rule owns.
"""

from __future__ import annotations

import re

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.secrets import checks, rules_tokens
from secpipe.scanners.secrets.rules import Rule, Validator, rx, spellings

C, H, M = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM

_HASH_WORDS = re.compile(
    r"hash|sha[0-9_-]|sha$|md5|digest|checksum|integrity|commit|revision|fingerprint|etag|"
    r"nonce|salt|uuid|guid|_id\b|request.?id|trace",
    re.IGNORECASE,
)


def _lead(m: re.Match[str]) -> str:
    """The text of the line before the value (names and operators around it)."""
    start = m.start("s")
    line_start = m.string.rfind("\n", 0, start) + 1
    return m.string[max(line_start, start - 80) : start]


def _contextual(min_entropy: float, min_classes: int = 1) -> Validator:
    def check(secret: str, m: re.Match[str]) -> bool:
        if checks.is_placeholder(secret) or checks.is_documented_example(secret):
            return False
        if _HASH_WORDS.search(_lead(m)):
            return False
        return checks.random_enough(secret, min_entropy, min_classes)

    return check


def ctx(id: str, title: str, severity: Severity, keywords: tuple[str, ...], value: str, *,
        category: str, min_entropy: float = 3.0, min_classes: int = 1, after: int = 160,
        extra: Validator | None = None) -> Rule:
    """A context rule: ``value`` (group ``s``) on the same line, after one of ``keywords``."""
    check = _contextual(min_entropy, min_classes)
    validate: Validator = (lambda s, m: check(s, m) and extra(s, m)) if extra else check
    return Rule(id=id, title=title, severity=severity, keywords=keywords, pattern=rx(value),
                validate=validate, after=after, priority=1, confidence=Confidence.MEDIUM,
                category=category)


def _hex(*lengths: int) -> str:
    alts = "|".join(f"[a-f0-9]{{{n}}}" for n in sorted(lengths, reverse=True))
    return r"(?<![A-Za-z0-9])(?P<s>" + alts + r")(?![A-Za-z0-9])"


# --- generic assignments -------------------------------------------------------------------------

def _assign(names: str, min_len: int) -> re.Pattern[str]:
    """``<name> <operator> <value>`` where the name contains one of ``names``."""
    return rx(
        r"(?<![A-Za-z0-9_.-])(?P<key>[A-Za-z0-9_.-]{0,40}(?i:" + names + r")[A-Za-z0-9_.-]{0,40})"
        r"(?:(?:[\"']\]?|\])?[ \t]*(?::=|=>|=|:|>|[ \t])|[\"'][ \t]*,)[ \t]*"
        r"(?P<q>[\"'`]?)(?P<s>[^\s\"'`,;<]{" + str(min_len) + r",200})(?P=q)(?=[\s,;)\]}#<]|$)"
    )


#: Words in a name that say its value is not a secret (``token_url``, ``password_hash`` …).
_NOT_CRED_WORDS = frozenset({
    "hash", "hashed", "md5", "digest", "checksum", "integrity", "fingerprint", "commit", "id",
    "ids", "name", "file", "path", "dir", "url", "uri", "endpoint", "type", "len", "length",
    "limit", "count", "max", "min", "size", "header", "prefix", "field", "format", "env", "var",
    "ref", "arn", "policy", "timeout", "ttl", "regex", "pattern", "validator", "placeholder",
    "label", "hint", "prompt", "template", "method", "scheme", "usage", "enabled", "required",
    "salt", "nonce", "expiry", "expires", "rotation", "version", "kind", "public",
    "publishable", "pub", "last", "used", "date", "time", "updated", "created", "changed", "reset",
    "next", "continuation", "page", "pagination", "cursor", "marker", "output", "input", "types",
})  # fmt: skip
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_HASH_NAME = re.compile(r"sha[0-9]*|md[0-9]")


def _not_secret_name(key: str) -> bool:
    words = [w.lower() for part in re.split(r"[^A-Za-z0-9]+", key) for w in _CAMEL.split(part)]
    return any(w in _NOT_CRED_WORDS or _HASH_NAME.fullmatch(w) for w in words)


_CODE = re.compile(r"[(){}\[\]<>]|^\.|\.\w+\(|::|->")
#: Code or data paths even inside quotes: ``a.b[-1].c``, ``obj.method(``, ISO dates.
_QUOTED_CODE = re.compile(r"\[-?[0-9]+\]|\w\.\w+[\[(]|^[0-9]{4}-[0-9]{2}-[0-9]{2}")


_CRED_NAME = re.compile(r"token|secret|api[_.-]?key|apikey", re.IGNORECASE)
_DEFAULTS = frozenset({"password", "secret", "admin", "root", "test", "guest", "default"})


def _known_prefixes() -> tuple[str, ...]:
    return tuple(k for r in rules_tokens.RULES if r.before == 0 for k in r.keywords)


_PREFIXES = _known_prefixes()
#: Prefixes of keys that are public by design (Stripe publishable keys, Mapbox public tokens).
_PUBLIC = ("pk_live_", "pk_test_", "pk.ey", "ssh-", "ecdsa-sha2-")


def _decoded(value: str) -> str | None:
    """The text a base64 value encodes (Kubernetes secrets), when it is printable text."""
    if len(value) % 4 or len(value) < 8:
        return None
    raw = checks.b64_decode(value)
    if raw is None:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text.isprintable() else None


def _generic(min_len: int, min_entropy: float, min_classes: int) -> Validator:
    def check(secret: str, m: re.Match[str]) -> bool:
        if len(secret) < min_len or _not_secret_name(m.group("key")):
            return False
        if checks.is_placeholder(secret) or checks.is_documented_example(secret):
            return False
        if checks.is_test_value(secret) or checks.is_alphabet(secret):
            return False
        decoded = _decoded(secret)
        if decoded is not None and (checks.is_placeholder(decoded) or len(decoded) < 6
                                    or decoded.lower() in _DEFAULTS):
            return False
        # hex of a digest length is a hash unless the name says token/secret/key (not password)
        hexy = checks.looks_like_hash(secret) and not checks.is_hash_syntax(secret)
        if (checks.looks_like_hash(secret) and not (hexy and _CRED_NAME.search(m.group("key"))))\
                or secret.lower().startswith(_PREFIXES + _PUBLIC):
            return False
        if not m.group("q") and (_CODE.search(secret) or checks.looks_like_identifier(secret)):
            return False
        if _QUOTED_CODE.search(secret):
            return False
        if not any(c.isdigit() for c in secret):
            return False
        return checks.random_enough(secret, min_entropy, min_classes)

    return check


_PW_NAMES = r"password|passwd|pwd|passphrase|db_pass\b|_pass\b"
_CRED_NAMES = (
    r"secret|token|api[_.-]?key|apikey|access[_.-]?key|auth[_.-]?key|credential|"
    r"private[_.-]?key|signing[_.-]?key|encryption[_.-]?key|client[_.-]?key"
)

_PW_WORDS = "password|passwd|pwd|passphrase|_pass"
_CRED_WORDS = (
    r"secret|token|api[_.-]?key|apikey|access[_.-]?key|auth[_.-]?key|credential|private[_.-]?key|"
    r"signing[_.-]?key|encryption[_.-]?key|client[_.-]?key"
)


def _trigger(words: str, spaced: bool = False) -> str:
    """Where a generic rule may match: a name holding ``words`` then ``=``, ``:``, ``>`` (XML) or
    a quoted ``,`` (``define('DB_PASSWORD', …)``), a ``--flag``, or (``spaced``) a space
    (``.netrc``'s ``password VALUE``). A trigger never consumes the value: the value may start
    with another rule's keyword, and prefilter matches do not overlap."""
    names = r"(?:" + words + r")[a-z0-9_.-]{0,40}"
    return (
        names + r"[\"'\]]{0,2}[ \t]{0,8}[:=>]|" + names + r"[\"'][ \t]*,|"
        r"--[a-z0-9-]{0,20}(?:" + words + r")[a-z0-9-]{0,20}[ \t=]"
        + (r"|(?:" + words + r")[ \t]+" if spaced else "")
    )


RULES: tuple[Rule, ...] = (
    ctx("aws-secret-key", "AWS secret access key", C,
        spellings("aws secret", "secret access", "secret access key"),
        r"(?<![A-Za-z0-9+/])(?P<s>[A-Za-z0-9+/]{40})(?![A-Za-z0-9+/=])", category="cloud",
        min_entropy=4.0, min_classes=3),
    ctx("azure-storage-key", "Azure storage account key", C,
        spellings("storage key", "account key", "storage account key", "azure storage"),
        r"(?<![A-Za-z0-9+/])(?P<s>[A-Za-z0-9+/]{86}==)", category="cloud", min_entropy=4.5,
        after=240,
        extra=lambda s, m: (raw := checks.b64_decode(s)) is not None and len(raw) == 64),
    ctx("azure-devops-pat", "Azure DevOps personal access token", H,
        ("devops", "vsts", "ado_pat", "ado_token", "azure_pat"),
        r"(?<![A-Za-z0-9])(?P<s>[a-z2-7]{52}|[A-Za-z0-9]{84})(?![A-Za-z0-9])", category="vcs",
        min_entropy=3.8),
    ctx("twilio-api-key", "Twilio API key", H, ("twilio",),
        r"(?<![A-Za-z0-9])(?P<s>SK[a-fA-F0-9]{32})(?![A-Za-z0-9])", category="chat"),
    ctx("twilio-auth-token", "Twilio auth token", H, ("twilio",), _hex(32), category="chat"),
    ctx("discord-bot-token", "Discord bot token", H, ("discord",),
        r"(?<![A-Za-z0-9_-])(?P<s>[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38})"
        r"(?![A-Za-z0-9_-])", category="chat", extra=lambda s, m: checks.discord_id_ok(s)),
    ctx("cohere-api-key", "Cohere API key", H, ("cohere",),
        r"(?<![A-Za-z0-9])(?P<s>[A-Za-z0-9]{40})(?![A-Za-z0-9])", category="ai", min_entropy=4.0,
        min_classes=3),
    ctx("wandb-api-key", "Weights & Biases API key", H, ("wandb", "weights_and_biases"),
        _hex(40), category="ai"),
    ctx("kaggle-api-key", "Kaggle API key", H, ("kaggle",), _hex(32), category="ai"),
    ctx("datadog-api-key", "Datadog API or application key", H,
        ("datadog", *spellings("dd api", "dd app")), _hex(32, 40), category="saas"),
    ctx("okta-api-token", "Okta API token", H, ("okta", "ssws"),
        r"(?<![A-Za-z0-9_-])(?P<s>00[A-Za-z0-9_-]{40})(?![A-Za-z0-9_-])", category="saas",
        min_entropy=3.5),
    Rule("generic-password", "Password in a file", M, (), _assign(_PW_NAMES, 8),
         trigger=_trigger(_PW_WORDS, spaced=True), validate=_generic(8, 2.8, 3),
         before=48, after=260, priority=2, confidence=Confidence.MEDIUM, category="generic"),
    Rule("generic-secret", "Secret, token or API key assignment", M, (),
         _assign(_CRED_NAMES, 16), trigger=_trigger(_CRED_WORDS),
         validate=_generic(16, 3.5, 2),
         before=48, after=260, priority=2, confidence=Confidence.MEDIUM, category="generic"),
)  # fmt: skip
