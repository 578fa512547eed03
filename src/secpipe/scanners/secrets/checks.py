"""Validators and filters shared by the secret rules.

Format checks (``crc32_base62``, ``jwt_header_ok`` …) say whether a candidate has the structure its
issuer gives it; filters (:func:`is_placeholder`, :func:`is_documented_example`,
:func:`looks_like_hash` …) say whether a value is *not* a secret even though it sits where a
secret would. Nothing here ever logs or returns the secret it looks at.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections import Counter

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def sha256_hex(text: str) -> str:
    """Hex SHA-256 of the UTF-8 text (the identity of a secret; never the secret itself)."""
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def redact(secret: str) -> str:
    """A redacted form safe to show: at most the first 4 and last 2 characters of a long secret."""
    n = len(secret)
    if n >= 20:
        return f"{secret[:4]}****{secret[-2:]}"
    if n >= 12:
        return f"{secret[:2]}****{secret[-1:]}"
    return "****"


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def char_classes(text: str) -> int:
    """How many of lower, upper, digit and other characters occur."""
    return (
        any(c.islower() for c in text)
        + any(c.isupper() for c in text)
        + any(c.isdigit() for c in text)
        + any(not c.isalnum() for c in text)
    )


def b62(value: int, width: int) -> str:
    """Base62 (0-9A-Za-z) of ``value``, left-padded with ``0``."""
    out = ""
    while value:
        value, digit = divmod(value, 62)
        out = _B62[digit] + out
    return out.rjust(width, "0")


def crc32_base62(token: str, prefix_len: int) -> bool:
    """GitHub/npm checksum: the last 6 characters are base62(CRC32) of the body after the prefix."""
    body, check = token[prefix_len:-6], token[-6:]
    return b62(binascii.crc32(body.encode("ascii", "replace")), 6) == check


def b64url_decode(text: str) -> bytes | None:
    """Decode base64url with or without padding; None when it is not valid."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def b64_decode(text: str) -> bytes | None:
    """Decode standard base64 strictly; None when it is not valid."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def jwt_header_ok(token: str) -> bool:
    """A JWT's first segment is base64url JSON object with an ``alg``."""
    raw = b64url_decode(token.split(".", 1)[0])
    if raw is None or len(raw) > 4096:
        return False
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return isinstance(header, dict) and isinstance(header.get("alg"), str)


def discord_id_ok(token: str) -> bool:
    """A Discord bot token starts with the base64 of the bot's numeric user id."""
    raw = b64url_decode(token.split(".", 1)[0])
    return raw is not None and raw.isdigit() and 15 <= len(raw) <= 21


# --- what is NOT a secret ------------------------------------------------------------------------

#: SHA-256 of keys published in vendor documentation as examples (kept as hashes so this source
#: file itself holds no key-shaped text).
_DOCUMENTED_EXAMPLES = frozenset({
    "7f75367e7881255134e1375e723d1dea8ad5f6a4fdb79d938df1f1754a830606",  # jwt.io's sample token
    "2cafc0970149a84f3b9e62eaf169f36f59907a3b3e31f7b82e68c69cd27f7326",  # Stripe docs test key
    "153a182586451358014e3142089118ce38f6c7dc7c79014d3fa40b57f80b4aab",  # its random part
    "3543c50b0cb9cea8e55eb1f529b79f043cb250d485fde7b66cabbb5183add7da",  # GitHub docs token
})

_PLACEHOLDER_WORDS = (
    "xxxx", "****", "....", "<", ">", "${", "{{", "}}", "$(", "%(", "%s", "your_", "your-",
    "yourkey", "yourtoken", "yoursecret", "yourpass", "changeme", "change_me", "change-me",
    "placeholder", "example", "dummy", "redacted", "replace_me", "replaceme", "insert_", "fixme",
    "todo", "sample", "fake", "notreal", "not_real", "not-a-real", "secret_here", "_here",
    "environ", "getenv", "process.env", "env(", "env.", "secrets.", "vault:", "lookup(",
    "123456789", "987654321", "abcdefgh", "abcdef0123", "0000000", "aaaaaaa", "password1",
    "password123", "p@ssw0rd",
    "p4ssw0rd", "letmein", "hunter2", "qwerty", "...", "mock", "passw",
)  # fmt: skip
_LEET = str.maketrans("013457@$!", "oleastasi")

_DOC_EXAMPLE = re.compile(r"EXAMPLE", re.ASCII)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_HASH_PREFIX = re.compile(
    r"^(?:sha(?:1|224|256|384|512)[-:=]|md5[-:=]|blake2b?[-:=]|\$2[abxy]?\$|\$argon2|\$6\$|\$5\$|"
    r"\$1\$|pbkdf2[_:$])",
    re.IGNORECASE,
)


def is_documented_example(secret: str) -> bool:
    """A key published as an example by its vendor (``…EXAMPLE`` keys and known samples)."""
    if _DOC_EXAMPLE.search(secret) or sha256_hex(secret) in _DOCUMENTED_EXAMPLES:
        return True
    tail = secret.rsplit("_", 1)[-1]
    return tail != secret and sha256_hex(tail) in _DOCUMENTED_EXAMPLES


def is_placeholder(secret: str) -> bool:
    """A template, variable reference, masked or made-up value rather than a credential."""
    low = secret.lower()
    if any(word in low for word in _PLACEHOLDER_WORDS):
        return True
    if "passw" in low.translate(_LEET):  # P@55w0rd!
        return True
    if secret[:1] in "$%@&*" or secret.startswith(("#{", "!")):
        return True
    if secret.startswith("{") and secret.endswith("}"):  # a format template: {password}
        return True
    return len(secret) >= 8 and len(set(secret)) < 5


def is_hash_syntax(value: str) -> bool:
    """A prefixed digest (``sha256:…``, ``sha512-…``), a crypt/bcrypt string or a UUID."""
    return bool(_HASH_PREFIX.match(value) or _UUID.fullmatch(value))


_TEST_WORDS = ("passw", "secret", "dummy", "sample", "example", "changeme", "testing")


def is_test_value(value: str) -> bool:
    """A made-up value for tests and docs: ``s3cr3t-value``, ``P@55w0rd!``, ``dummy-pass``.
    Only for values that are not issuer-format tokens (``secret_…`` is a real Notion prefix)."""
    low = value.lower().translate(_LEET)
    return any(word in low for word in _TEST_WORDS)


def is_alphabet(value: str) -> bool:
    """A charset definition (``QPZRY9X8…``): long, and no character twice. A random value this
    long almost always repeats a character."""
    return len(value) >= 30 and len(set(value)) == len(value)


def looks_like_hash(value: str) -> bool:
    """Hex digests of common lengths, bcrypt/crypt strings, ``sha512-…`` integrity, UUIDs."""
    if _HASH_PREFIX.match(value) or _UUID.fullmatch(value):
        return True
    return len(value) in (32, 40, 56, 64, 96, 128) and _HEX.fullmatch(value) is not None


_CAMEL_PART = re.compile(r"[A-Z]?[a-z]+[0-9]{0,4}|[A-Z]+[0-9]{0,4}(?![a-z])|[0-9]{1,4}")


def looks_like_identifier(value: str) -> bool:
    """Code rather than data: ``snake_case``, ``UPPER_CASE``, ``camelCase``, dotted names, and
    ``PKCS7PrivateKeyTypes``-style names made of words with short numbers."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", value):
        return False
    if not any(c.isdigit() for c in value) or "_" in value or "." in value:
        return True
    parts = _CAMEL_PART.findall(value)
    return "".join(parts) == value and all(len(p) >= 3 for p in parts if not p.isdigit())


def random_enough(value: str, min_entropy: float, min_classes: int = 2) -> bool:
    """High enough entropy and mixed enough characters for a machine-made secret."""
    return entropy(value) >= min_entropy and char_classes(value) >= min_classes
