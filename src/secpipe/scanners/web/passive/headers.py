"""Security response headers (kind ``missing-header``, CWE-693; detail = the header name).

Judged on responses that answered 2xx with a body (error pages and redirects are not the
application's pages):

* ``X-Content-Type-Options`` must be ``nosniff`` on every such response (LOW);
* ``Content-Type`` must be present (LOW: the browser would sniff);
* HTML pages need anti-clickjacking: ``X-Frame-Options: DENY|SAMEORIGIN`` or an enforced CSP
  ``frame-ancestors`` (MEDIUM; ``ALLOW-FROM`` is ignored by browsers and counts as missing);
* https responses need ``Strict-Transport-Security`` with ``max-age`` of at least 180 days
  (LOW; ``max-age=0`` disables it);
* HTML pages: ``Permissions-Policy`` (LOW), ``Referrer-Policy`` (header or meta): missing is
  INFO (browsers default to ``strict-origin-when-cross-origin``), ``unsafe-url`` or
  ``no-referrer-when-downgrade`` LOW (full URLs, with their tokens, leak to other sites).

``X-XSS-Protection`` is not judged: browsers removed the XSS auditor, the header is inert.
"""

from __future__ import annotations

import re

from secpipe.core.findings import Severity
from secpipe.scanners.web.model import WebFinding
from secpipe.scanners.web.passive._common import Page
from secpipe.scanners.web.passive.csp import parse_policies

CWE = "CWE-693"
HSTS_MIN_AGE = 15_552_000
"""180 days, in seconds."""
_MAX_AGE = re.compile(r"(?:^|;)\s*max-age\s*=\s*\"?(\d{1,12})\"?\s*(?:;|$)", re.I)
_UNSAFE_REFERRER = frozenset({"unsafe-url", "no-referrer-when-downgrade"})


def _missing(page: Page, header: str, severity: Severity, message: str, fix: str,
             proof: str = "") -> WebFinding:
    return page.finding("missing-header", f"{header} header missing or weak", severity,
                        message, detail=header, cwe=CWE, remediation=fix, proof=proof)


def check(page: Page) -> list[WebFinding]:
    if not (page.success and page.has_body):
        return []
    response = page.response
    out: list[WebFinding] = []
    xcto = (response.header("x-content-type-options") or "").strip().lower()
    if xcto != "nosniff":
        out.append(_missing(
            page, "X-Content-Type-Options", Severity.LOW,
            "X-Content-Type-Options: nosniff is not sent: browsers may sniff the body as "
            "another content type (HTML, script)", "Send X-Content-Type-Options: nosniff.",
            proof=f"X-Content-Type-Options: {xcto}" if xcto else ""))
    if response.header("content-type") is None:
        out.append(_missing(
            page, "Content-Type", Severity.LOW,
            "the response has a body but no Content-Type: the browser guesses",
            "Send a Content-Type (with charset for text) on every response with a body."))
    if page.https:
        out += _hsts(page)
    if not page.is_html:
        return out
    if not _framing_protected(page):
        out.append(_missing(
            page, "X-Frame-Options", Severity.MEDIUM,
            "the HTML page can be framed by any site (no X-Frame-Options DENY/SAMEORIGIN, no "
            "CSP frame-ancestors): clickjacking",
            "Send Content-Security-Policy: frame-ancestors 'self' (or 'none') and "
            "X-Frame-Options: DENY.",
            proof=f"X-Frame-Options: {response.header('x-frame-options')}"
            if response.header("x-frame-options") else ""))
    if response.header("permissions-policy") is None:
        out.append(_missing(
            page, "Permissions-Policy", Severity.LOW,
            "no Permissions-Policy: every browser feature (camera, geolocation …) is "
            "available to the page and frames it embeds",
            "Send a Permissions-Policy that disables the features the app does not use."))
    out += _referrer(page)
    return out


def _framing_protected(page: Page) -> bool:
    xfo = (page.response.header("x-frame-options") or "").strip().lower()
    if xfo in ("deny", "sameorigin"):
        return True
    policies = parse_policies(page.response.header_all("content-security-policy"))
    return any("frame-ancestors" in policy and "*" not in policy["frame-ancestors"]
               for policy in policies)


def _hsts(page: Page) -> list[WebFinding]:
    value = page.response.header("strict-transport-security")
    fix = "Send Strict-Transport-Security: max-age=31536000; includeSubDomains."
    if value is None:
        return [_missing(page, "Strict-Transport-Security", Severity.LOW,
                         "the https response sends no Strict-Transport-Security: a first "
                         "visit over http can be downgraded", fix)]
    match = _MAX_AGE.search(value)
    if match is None:
        return [_missing(page, "Strict-Transport-Security", Severity.LOW,
                         "Strict-Transport-Security has no valid max-age: browsers ignore it",
                         fix, proof=f"Strict-Transport-Security: {value}")]
    age = int(match.group(1))
    if age < HSTS_MIN_AGE:
        what = "disables HSTS" if age == 0 else f"is only {age} s (less than 180 days)"
        return [_missing(page, "Strict-Transport-Security", Severity.LOW,
                         f"Strict-Transport-Security max-age {what}", fix,
                         proof=f"Strict-Transport-Security: {value}")]
    return []


def _referrer(page: Page) -> list[WebFinding]:
    values = [*page.response.header_all("referrer-policy"), *page.html.meta("referrer")]
    fix = "Send Referrer-Policy: strict-origin-when-cross-origin (or no-referrer)."
    if not values:
        return [_missing(page, "Referrer-Policy", Severity.INFO,
                         "no Referrer-Policy (browsers default to "
                         "strict-origin-when-cross-origin)", fix)]
    # the last recognised token of the last value wins
    tokens = [t.strip().lower() for v in values for t in v.split(",") if t.strip()]
    if tokens and tokens[-1] in _UNSAFE_REFERRER:
        return [_missing(page, "Referrer-Policy", Severity.LOW,
                         f"Referrer-Policy {tokens[-1]} sends the full URL (path and query, "
                         "with any token in it) to other sites", fix,
                         proof=f"Referrer-Policy: {tokens[-1]}")]
    return []
