"""Passive checks of ``scan-web``: what one response shows, without sending anything.

:func:`check_exchange` is called by the step on every exchange the crawl made; it is pure (no
I/O), bounded (the body text is capped at :data:`._common.TEXT_CAP` characters, HTML is read
in one bounded pass, every regex has bounded repetition) and returns the findings of:

* :mod:`.headers` — ``missing-header`` (X-Content-Type-Options, Content-Type,
  anti-clickjacking, HSTS, Permissions-Policy, Referrer-Policy);
* :mod:`.csp` — ``csp`` (missing, report-only, meta-only, weak directives);
* :mod:`.cookies` — ``cookie-flags`` (HttpOnly, Secure, SameSite);
* :mod:`.leaks` — ``stack-trace``, ``version-banner``, ``private-ip``, ``html-comment``,
  ``debug-endpoint`` (debug/profiler headers);
* :mod:`.content` — ``mixed-content``, ``sri``, ``csrf``, ``directory-listing``,
  ``cache-sensitive``.

Within one exchange a (kind, detail) pair is reported once; the step de-duplicates across
exchanges of one route.
"""

from __future__ import annotations

from collections.abc import Callable

from secpipe.scanners.web.model import Exchange, Site, WebFinding
from secpipe.scanners.web.passive import content, cookies, csp, headers, leaks
from secpipe.scanners.web.passive._common import Page

CHECKS: tuple[Callable[[Page], list[WebFinding]], ...] = (
    headers.check, csp.check, cookies.check, leaks.check, content.check)
"""Every passive check, in report order."""

#: kind -> CWE of every kind this package reports (cookie-flags varies per flag)
KINDS = {
    "missing-header": "CWE-693", "csp": "CWE-693", "cookie-flags": "CWE-614/1004/1275",
    "stack-trace": "CWE-209", "version-banner": "CWE-200", "private-ip": "CWE-200",
    "html-comment": "CWE-615", "mixed-content": "CWE-319", "sri": "CWE-353",
    "csrf": "CWE-352", "directory-listing": "CWE-548", "cache-sensitive": "CWE-525",
    "debug-endpoint": "CWE-489",
}


def check_exchange(ex: Exchange, site: Site) -> list[WebFinding]:
    """Every passive finding about ``ex`` (none for a request that got no HTTP answer)."""
    if not ex.response.ok:
        return []
    page = Page(ex, site)
    out: list[WebFinding] = []
    seen: set[tuple[str, str]] = set()
    for check in CHECKS:
        for finding in check(page):
            key = (finding.kind, finding.detail)
            if key not in seen:
                seen.add(key)
                out.append(finding)
    return out
