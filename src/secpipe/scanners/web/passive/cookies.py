"""Cookie attributes (kind ``cookie-flags``; detail = ``<cookie name> <flag>``).

Every ``Set-Cookie`` of any response is judged on its own (a deletion, i.e. an empty value or
an expiry in the past, is skipped):

* ``HttpOnly`` missing on a session-like cookie (LOW, CWE-1004): the name says so (session,
  sid, token, auth, jwt, remember …) or the value looks like a token (a JWT, a Flask session, a
  long random string); CSRF double-submit cookies (csrf/xsrf names) must be readable by scripts
  and are exempt;
* ``Secure`` missing on a cookie set over https (LOW, CWE-614);
* ``SameSite`` missing or not Strict/Lax/None (LOW, CWE-1275), or ``SameSite=None`` without
  ``Secure`` (browsers reject the cookie).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from secpipe.core.findings import Severity
from secpipe.scanners.web.model import WebFinding
from secpipe.scanners.web.passive._common import Page

_SESSION_NAME = re.compile(
    r"sess|(?:^|[_.-])sid$|^sid|token|auth|jwt|login|remember|identity|user_?id|"
    r"connect\.sid|jsessionid|phpsessid|aspsessionid|\.aspnet|laravel|rack\.session", re.I)
_CSRF_NAME = re.compile(r"csrf|xsrf", re.I)
_JWT = re.compile(r"^eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*$")
_FLASK = re.compile(r"^\.?eJ[\w-]{10,}\.[\w-]{4,}\.[\w-]{10,}$")
_TOKENISH = re.compile(r"^[A-Za-z0-9_\-+/=.%:]{20,}$")
MAX_COOKIES = 50
"""Set-Cookie headers judged per response."""


@dataclass
class Cookie:
    """One Set-Cookie header, parsed."""

    name: str
    value: str
    attrs: dict[str, str] = field(default_factory=dict)
    raw: str = ""

    def has(self, attr: str) -> bool:
        return attr in self.attrs


def parse_set_cookie(header: str) -> Cookie | None:
    """``Set-Cookie`` as a :class:`Cookie` (None when it has no name=value pair)."""
    parts = header.split(";")
    name, sep, value = parts[0].partition("=")
    if not sep or not name.strip():
        return None
    attrs: dict[str, str] = {}
    for part in parts[1:64]:
        key, _, val = part.partition("=")
        key = key.strip().lower()
        if key and key not in attrs:
            attrs[key] = val.strip()
    return Cookie(name.strip(), value.strip().strip('"'), attrs, header[:300])


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def session_like(cookie: Cookie) -> bool:
    """Whether the cookie probably identifies a session or carries a credential."""
    if _CSRF_NAME.search(cookie.name):
        return False
    if _SESSION_NAME.search(cookie.name):
        return True
    value = cookie.value
    if _JWT.match(value) or _FLASK.match(value):
        return True
    return bool(_TOKENISH.match(value) and any(c.isdigit() for c in value)
                and any(c.isalpha() for c in value) and _entropy(value) > 3.5)


def deleted(cookie: Cookie) -> bool:
    if not cookie.value:
        return True
    max_age = cookie.attrs.get("max-age", "")
    if max_age.lstrip("-").isdigit() and int(max_age) <= 0:
        return True
    expires = cookie.attrs.get("expires")
    if expires:
        try:
            when = parsedate_to_datetime(expires)
        except (TypeError, ValueError, IndexError):
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when < datetime.now(UTC)
    return False


def check(page: Page) -> list[WebFinding]:
    out: list[WebFinding] = []
    for header in page.response.header_all("set-cookie")[:MAX_COOKIES]:
        cookie = parse_set_cookie(header)
        if cookie is None or deleted(cookie):
            continue
        out += _judge(page, cookie)
    return out


def _judge(page: Page, cookie: Cookie) -> list[WebFinding]:
    out: list[WebFinding] = []
    name = cookie.name
    attrs = "; ".join(f"{k}={v}" if v else k for k, v in cookie.attrs.items())
    proof = f"Set-Cookie: {name}=***" + (f"; {attrs}" if attrs else "")

    def flag(flag: str, severity: Severity, message: str, cwe: str, fix: str) -> None:
        out.append(page.finding(
            "cookie-flags", f"Cookie {name} without {flag}", severity, message,
            detail=f"{name} {flag}", cwe=cwe, remediation=fix, proof=proof))

    if not cookie.has("httponly") and session_like(cookie):
        flag("HttpOnly", Severity.LOW,
             f"the session-like cookie {name} is readable by scripts (no HttpOnly): an XSS "
             "can steal it", "CWE-1004", "Set the HttpOnly attribute on session cookies.")
    if page.https and not cookie.has("secure"):
        flag("Secure", Severity.LOW,
             f"the cookie {name} is set over https without Secure: it is also sent over "
             "plain http", "CWE-614", "Set the Secure attribute on every cookie of an https "
             "site.")
    samesite = cookie.attrs.get("samesite", "").lower()
    if samesite not in ("strict", "lax", "none"):
        flag("SameSite", Severity.LOW,
             f"the cookie {name} has no valid SameSite attribute"
             + (f" ({samesite!r})" if samesite else ""),
             "CWE-1275", "Set SameSite=Lax (or Strict) on cookies.")
    elif samesite == "none" and not cookie.has("secure"):
        flag("SameSite", Severity.LOW,
             f"the cookie {name} has SameSite=None without Secure: browsers reject it, and "
             "where accepted it goes with cross-site requests", "CWE-1275",
             "Use SameSite=Lax, or SameSite=None together with Secure.")
    return out
