"""Password hashes where they stand for an account: crypt strings in credential-shaped places.

A crypt-format hash (``$1$`` md5-crypt, ``$5$``/``$6$`` sha-crypt, ``$2a$``/``$2b$``/``$2y$``
bcrypt, ``$7$`` scrypt, ``$y$`` yescrypt, ``$argon2…$``, ``$apr1$``, ``$pbkdf2…$``) or an LDAP
scheme value (``{SSHA}…``, ``{SHA512-CRYPT}$6$…``) can be cracked offline, so one that stands for
an account is a leak. A hash alone is not: documentation quotes them, configs store the hash of a
test password under a name saying so (``PASSWORD_HASH = …``). It is reported only in a
credential-shaped place:

* a ``passwd``/``shadow``/``htpasswd``-like line: ``user:HASH`` then ``:`` or the end of the line;
* a data row of an SQL ``INSERT`` statement (a user table dumped with its hashes);
* the value of a key that names the password itself (``password``, ``userPassword``, ``pass``,
  Cisco ``secret 5``), not a key describing a hash (``password_hash``, ``digest``).
"""

from __future__ import annotations

import base64
import binascii
import re

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.secrets.rules import Rule, rx

M = Severity.MEDIUM

_C64 = r"[./A-Za-z0-9]"
_B64 = r"[A-Za-z0-9+/]"
#: Each scheme's full syntax (lengths included): a truncated or made-up string is not a hash.
_CRYPT = (
    r"\$2[abxy]?\$[0-9]{2}\$" + _C64 + r"{53}"
    r"|\$1\$" + _C64 + r"{1,8}\$" + _C64 + r"{22}"
    r"|\$apr1\$" + _C64 + r"{1,8}\$" + _C64 + r"{22}"
    r"|\$5\$(?:rounds=[0-9]{1,9}\$)?" + _C64 + r"{1,16}\$" + _C64 + r"{43}"
    r"|\$6\$(?:rounds=[0-9]{1,9}\$)?" + _C64 + r"{1,16}\$" + _C64 + r"{86}"
    r"|\$7\$" + _C64 + r"{14,}\$" + _C64 + r"{43}"
    r"|\$7\$[0-9]{1,6}\$" + _B64 + r"{12,}={0,2}\$" + _B64 + r"{40,}={0,2}"
    r"|\$g?y\$" + _C64 + r"{1,10}\$" + _C64 + r"{8,86}\$" + _C64 + r"{43}"
    r"|\$argon2(?:id|i|d)\$(?:v=[0-9]{1,3}\$)?m=[0-9]{1,8},t=[0-9]{1,4},p=[0-9]{1,3}\$"
    + _B64 + r"{11,}\$" + _B64 + r"{16,}"
    r"|\$pbkdf2(?:-sha(?:1|256|512))?\$[0-9]{1,7}\$" + _C64 + r"{8,}\$" + _C64 + r"{20,}"
)
_SCHEME = r"\{[A-Za-z0-9-]{2,20}\}"
_HASH = (r"(?P<s>(?:" + _SCHEME + r")?(?:" + _CRYPT + r")|" + _SCHEME + _B64 + r"{20,200}={0,2})"
         r"(?![A-Za-z0-9./+$=])")
#: Prefilter: where a crypt string or an LDAP scheme value may start (lower-cased text).
_TRIGGER = (r"\$(?:2[abxy]?\$[0-9]|1\$|5\$|6\$|7\$|g?y\$|apr1\$|argon2|pbkdf2)|"
            r"\{(?:s?sha[0-9]{0,3}|s?md5|crypt|blf-crypt|sha(?:256|512)-crypt|pbkdf2[a-z0-9-]*)\}")

_USER_FIELD = re.compile(r"(?:^|\n)[ \t]*[^\s:#][^\s:]{0,127}:$")
_KEY_BEFORE = re.compile(
    r"(?:^|[^A-Za-z0-9])(?:[a-z]{0,16}_?)?(?:password|passwd|pass|pw|pwd)[\"'\]]?"
    r"[ \t]*(?:=>|:=|[=:>,])?[ \t]*[\"'(]?[ \t]*$"
    r"|(?:^|[ \t])secret[ \t]+[0-9][ \t]+$",
    re.IGNORECASE,
)
_INSERT = re.compile(r"insert[ \t\r\n]+(?:ignore[ \t\r\n]+)?into", re.IGNORECASE)
#: Bytes looked back for the ``INSERT`` that a data row belongs to.
_STATEMENT_BACK = 64 * 1024
_SCHEME_ONLY = re.compile(_SCHEME + r"(?P<b>" + _B64 + r"+={0,2})$")


def _in_insert(text: str, start: int) -> bool:
    """``start`` is inside the values of an SQL INSERT statement (none ended since it began)."""
    floor = max(0, start - _STATEMENT_BACK)
    head = text[floor:start]
    last = None
    for last in _INSERT.finditer(head):  # noqa: B007 - the last one is wanted
        pass
    if last is None:
        return False
    return re.search(r";[ \t]*(?:\r?\n|$)", head[last.end():]) is None


def _scheme_value_ok(secret: str) -> bool:
    """``{SSHA}base64``: the base64 decodes to at least a digest's worth of bytes."""
    m = _SCHEME_ONLY.match(secret)
    if m is None:
        return True  # {SCHEME} followed by a crypt string, already checked by its syntax
    try:
        raw = base64.b64decode(m.group("b") + "=" * (-len(m.group("b")) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) >= 16


def _credential_shaped(secret: str, m: re.Match[str]) -> bool:
    text = m.string
    start, end = m.span("s")
    line_start = text.rfind("\n", 0, start) + 1
    lead = text[line_start:start]
    after = text[end:end + 1]
    if not _scheme_value_ok(secret):
        return False
    if _USER_FIELD.search("\n" + lead) and after in ("", ":", "\n", "\r"):
        return True
    if _KEY_BEFORE.search(lead[-80:]):
        return True
    return _in_insert(text, line_start)


RULES: tuple[Rule, ...] = (
    Rule("password-hash", "Password hash of an account (crackable offline)", M, (),
         rx(_HASH), validate=_credential_shaped, trigger=_TRIGGER, before=0, after=420,
         priority=1, confidence=Confidence.MEDIUM, category="structured"),
)
