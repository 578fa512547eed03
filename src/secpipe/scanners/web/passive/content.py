"""What an HTML page loads and offers, and how a sensitive response may be cached.

* ``mixed-content`` (CWE-319; detail = the tag): an https page loading ``http://`` scripts,
  stylesheets, frames, objects or posting a form there (MEDIUM: active content / data sent in
  clear), or images and media (LOW); a page served over plain http (the loopback deployment
  this scanner usually sees) that loads active content from, or posts a form to, *another*
  host over ``http://`` (LOW: insecure now, mixed content once the site is on https);
* ``sri`` (LOW, CWE-353; detail = the host): a script or stylesheet from another host without
  an ``integrity`` attribute (that host, or whoever takes it over, runs code in the page);
* ``csrf`` (LOW, CWE-352; detail = the form's action path): a same-origin POST form with
  fields but no hidden anti-CSRF token (a hidden field named like csrf/xsrf/token/nonce/
  authenticity with a value of 8+ characters);
* ``directory-listing`` (MEDIUM, CWE-548): an autoindex page (Apache/nginx/lighttpd
  "Index of /…", Python http.server "Directory listing for /…", Tomcat, Jetty, IIS "[To
  Parent Directory]") with entries, unless it is the site's soft-404 page;
* ``cache-sensitive`` (LOW, CWE-525; detail = why): a 2xx response that sets a cookie (a
  shared cache would hand it to the next user), answers a request carrying
  ``Authorization``, or contains tokens (a JWT, an ``access_token``/``api_key``/``password``
  field, an AWS key id), without ``Cache-Control`` ``no-store`` or ``private``.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.web.model import WebFinding
from secpipe.scanners.web.passive._common import Page, excerpt, is_soft404, mask_secrets
from secpipe.scanners.web.passive.cookies import deleted, parse_set_cookie

_ACTIVE = {"script": "src", "iframe": "src", "frame": "src", "object": "data",
           "embed": "src", "form": "action"}
_PASSIVE = {"img": "src", "audio": "src", "video": "src", "source": "src", "track": "src"}
MAX_SRI = 5
"""SRI findings per page (one per host)."""


def _rels(attrs: dict[str, str]) -> set[str]:
    return set(attrs.get("rel", "").lower().split())


def mixed_content(page: Page) -> list[WebFinding]:
    if not page.is_html:
        return []
    found: dict[str, WebFinding] = {}
    for tag, attrs in page.html.tags:
        if tag == "link":
            rels = _rels(attrs)
            active = bool(rels & {"stylesheet", "preload", "modulepreload", "import"})
            url = attrs.get("href", "")
        elif tag in _ACTIVE:
            active, url = True, attrs.get(_ACTIVE[tag], "")
        elif tag in _PASSIVE:
            active, url = False, attrs.get(_PASSIVE[tag], "")
        else:
            continue
        url = url.strip()
        if not url.lower().startswith("http://") or tag in found:
            continue
        if page.https:
            severity = Severity.MEDIUM if active else Severity.LOW
            what = "the https page"
        else:
            # a page served over http (a loopback deployment, a TLS-terminating proxy in
            # front): code or form data that travels in clear to *another* host is insecure
            # now and mixed content once the page is served over https
            host = (urlsplit(url).hostname or "").lower()
            if not active or not host or host in page.own_hosts:
                continue
            severity, what = Severity.LOW, "the page"
        found[tag] = page.finding(
            "mixed-content", f"Mixed content: <{tag}> over http", severity,
            f"{what} {'sends a form to' if tag == 'form' else 'loads'} {url[:200]} over plain "
            "http: it can be read or replaced on the network", detail=tag,
            cwe="CWE-319", remediation="Load every resource (and post every form) over https.",
            proof=f"<{tag} {_ACTIVE.get(tag) or _PASSIVE.get(tag) or 'href'}=\"{url[:200]}\">")
    return list(found.values())


def sri(page: Page) -> list[WebFinding]:
    if not page.is_html:
        return []
    found: dict[str, WebFinding] = {}
    for tag, attrs in page.html.tags:
        if tag == "script":
            url = attrs.get("src", "")
        elif tag == "link" and "stylesheet" in _rels(attrs):
            url = attrs.get("href", "")
        else:
            continue
        absolute = urljoin(page.url, url.strip())
        parts = urlsplit(absolute)
        host = (parts.hostname or "").lower()
        if (parts.scheme not in ("http", "https") or not host or host in page.own_hosts
                or attrs.get("integrity", "").strip() or host in found):
            continue
        found[host] = page.finding(
            "sri", f"{tag} from {host} without integrity", Severity.LOW,
            f"the page loads {absolute[:200]} from another host without Subresource "
            "Integrity: whoever controls that host runs code in this page", detail=host,
            cwe="CWE-353", remediation="Add integrity=\"sha384-…\" and crossorigin to "
            "third-party scripts and stylesheets, or host them yourself.",
            proof=f"<{tag} {'src' if tag == 'script' else 'href'}=\"{url[:200]}\">")
        if len(found) >= MAX_SRI:
            break
    return list(found.values())


_TOKEN_FIELD = re.compile(r"csrf|xsrf|token|nonce|authenticity|verification|_wpnonce|"
                          r"__requestverificationtoken|formkey|form_key", re.I)


def csrf(page: Page) -> list[WebFinding]:
    if not (page.is_html and page.success):
        return []
    found: dict[str, WebFinding] = {}
    for form in page.html.forms:
        if form.method != "post":
            continue
        target = urljoin(page.url, form.action.strip() or page.url)
        if (urlsplit(target).hostname or "").lower() not in page.own_hosts:
            continue
        fields = [f for f in form.fields if f.get("type", "").lower() not in
                  ("submit", "button", "reset", "image") and f.get("tag") != "button"]
        if not fields:
            continue
        if any(f.get("type", "").lower() == "hidden" and _TOKEN_FIELD.search(f.get("name", ""))
               and len(f.get("value", "")) >= 8 for f in fields):
            continue
        route = urlsplit(target).path or "/"
        if route in found:
            continue
        names = ", ".join(f.get("name", "?") for f in fields[:8])
        found[route] = page.finding(
            "csrf", f"POST form to {route} without an anti-CSRF token", Severity.LOW,
            f"the form posting to {route} (fields: {names}) carries no anti-CSRF token: "
            "another site can submit it with the user's cookies", detail=route,
            cwe="CWE-352", confidence=Confidence.MEDIUM,
            remediation="Add a per-session (or per-request) hidden CSRF token to every state-"
            "changing form and check it on the server; set SameSite on session cookies.",
            proof=f"<form method=\"post\" action=\"{form.action[:200]}\"> fields: {names}")
    return list(found.values())


_LISTING_TITLE = re.compile(r"^(?:Index of /|Directory listing for /|Directory Listing For /|"
                            r"Directory: /)", re.I)


def directory_listing(page: Page) -> list[WebFinding]:
    if not (page.is_html and page.success):
        return []
    html = page.html
    title = html.title or html.heading
    titled = bool(_LISTING_TITLE.match(html.title) or _LISTING_TITLE.match(html.heading))
    iis = "[To Parent Directory]" in page.text[:20_000]
    entries = [a for a in html.anchors if a and not a.startswith(("?", "#", "http:", "https:",
                                                                  "mailto:", "javascript:"))]
    if not ((titled or iis) and entries) or is_soft404(page.response, page.site.not_found):
        return []
    return [page.finding(
        "directory-listing", "Directory listing", Severity.MEDIUM,
        f"the server lists the folder's files ({title[:100] or 'IIS listing'}, "
        f"{len(entries)} entries): hidden files, backups and sources become reachable",
        cwe="CWE-548", remediation="Turn off automatic directory indexes (autoindex off, "
        "Options -Indexes) and serve an index page or 403.",
        proof=f"{title[:100]}: " + ", ".join(entries[:10]))]


_TOKENS = re.compile(
    r"\beyJ[\w-]{10,2000}\.eyJ[\w-]{10,4000}\.[\w-]{10,2000}|\bAKIA[0-9A-Z]{16}\b|"
    r"[\"']?(?:access_token|refresh_token|id_token|api_key|apikey|client_secret|"
    r"secret_key|password)[\"']?\s{0,5}[:=]\s{0,5}[\"'][^\"'\s]{8,400}[\"']", re.I)


def cache_sensitive(page: Page) -> list[WebFinding]:
    response = page.response
    if not page.success:
        return []
    cache = (response.header("cache-control") or "").lower()
    if "no-store" in cache or "private" in cache:
        return []
    reason, proof = "", ""
    for header in response.header_all("set-cookie")[:50]:
        cookie = parse_set_cookie(header)
        if cookie is not None and not deleted(cookie):
            reason, proof = "set-cookie", f"Set-Cookie: {cookie.name}=…"
            break
    if not reason and page.exchange.request.header("authorization"):
        reason, proof = "authorization", "request carried Authorization"
    if not reason and page.has_body:
        match = _TOKENS.search(page.text)
        if match:
            reason = "token"
            proof = mask_secrets(excerpt(page.text, match.start(), match.end(), after=20))
    if not reason:
        return []
    why = {"set-cookie": "sets a cookie",
           "authorization": "answers an authenticated request",
           "token": "contains a token or credential"}[reason]
    shown = f"Cache-Control: {cache}" if cache else "no Cache-Control"
    return [page.finding(
        "cache-sensitive", "Sensitive response may be cached", Severity.LOW,
        f"the response {why} but may be stored by shared caches and the browser ({shown})",
        detail=reason, cwe="CWE-525", confidence=Confidence.MEDIUM,
        remediation="Send Cache-Control: no-store (or private, no-cache) on responses that "
        "set session cookies or carry user data or tokens.", proof=f"{proof}; {shown}")]


def check(page: Page) -> list[WebFinding]:
    return [*mixed_content(page), *sri(page), *csrf(page), *directory_listing(page),
            *cache_sensitive(page)]
