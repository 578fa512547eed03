"""Test helper: credentials built at run time (never a literal, so the repository stays clean
under any secret scanner, its own included)."""

from __future__ import annotations

import binascii
import random
import string

ALNUM = string.ascii_letters + string.digits
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def github_token(rng: random.Random) -> str:
    """A GitHub token shape (``ghp_`` + 30 characters + a base-62 CRC32 check)."""
    body = "".join(rng.choice(ALNUM) for _ in range(30))
    value, check = binascii.crc32(body.encode()), ""
    while value:
        value, digit = divmod(value, 62)
        check = B62[digit] + check
    return "ghp_" + body + check.rjust(6, "0")
