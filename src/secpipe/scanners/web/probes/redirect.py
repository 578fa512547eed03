"""Open redirect probe (``open-redirect``, CWE-601).

A parameter that names a redirect target (``next``, ``url``, ``return_to`` …) or whose sample
value is a URL or an absolute path gets a URL to a host we named (``<canary>.example``, H): the
four spellings browsers follow off-origin (``https://H/``, ``//H``, ``/\\H``, ``https:H``),
then two that pass a naive "starts with our URL" check (``http://app:port@H/``,
``http://app.H/``), and the bare host when the sample value is one. The finding needs the
answer to send the browser there: a ``Location`` (3xx) or ``Refresh`` header, an HTML meta
refresh, or a simple script assignment (``location = "…"``, ``location.href``,
``location.replace(…)``) whose target, resolved against the request URL the way a browser
resolves it (tabs and newlines dropped, backslashes as slashes, any number of leading slashes,
``https:H`` from an ``http`` page), has our canary host. A redirect that stays on the origin,
or carries our value only in its path or query, is not one.

Requests: at most 7 per point (one per spelling; 5 or 6 for most), fewer once one proves it.
"""

from __future__ import annotations

import html
import re
from urllib.parse import unquote, urlsplit

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.web.model import Exchange, InputKind, InputPoint, Response, Site, WebFinding
from secpipe.scanners.web.probes import ProbeContext

KIND = "open-redirect"
CWE = "CWE-601"

#: parameter names (lower case, without ``_``/``-``) that usually carry a redirect target
_NAMES = frozenset({
    "next", "url", "uri", "return", "returnto", "returnurl", "returnuri", "returnpath", "ret",
    "redirect", "redirecturl", "redirecturi", "redirectto", "redir", "to", "dest",
    "destination", "continue", "goto", "target", "forward", "forwardurl", "r", "u", "back",
    "backurl", "out", "link", "location", "successurl", "failurl", "cancelurl", "rurl",
    "callbackurl", "after", "afterlogin", "camefrom", "from", "origin",
    "referer", "referrer", "jump", "exit", "checkout", "view", "page", "path", "nextpage",
})
_NAME_PARTS = ("redirect", "return", "next", "url", "goto", "continue", "dest", "redir")
_POINT_KINDS = (InputKind.QUERY, InputKind.FORM, InputKind.JSON, InputKind.PATH)
_SPECIAL = ("http", "https")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):(.*)$", re.S)
_C0_SPACE = "".join(chr(i) for i in range(0x21))
_META = re.compile(
    r"<meta\b[^>]*?http-equiv\s*=\s*[\"']?refresh[\"']?[^>]*?>", re.I | re.S)
_CONTENT = re.compile(r"\bcontent\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))", re.I | re.S)
_REFRESH_URL = re.compile(r"^\s*[\d.]*\s*[;,]?\s*(?:url\s*=\s*)?(.*)$", re.I | re.S)
_JS = re.compile(
    r"\blocation(?:\s*\.\s*href)?\s*=\s*([\"'`])((?:\\.|(?!\1).){0,2048})\1"
    r"|\blocation\s*\.\s*(?:replace|assign)\s*\(\s*([\"'`])((?:\\.|(?!\3).){0,2048})\3"
    r"|\bwindow\s*\.\s*open\s*\(\s*([\"'`])((?:\\.|(?!\5).){0,2048})\5", re.S)
_JS_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|u\{[0-9a-fA-F]{1,6}\}|.)", re.S)
_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script\s*>", re.I | re.S)
_MAX_SCAN = 512 * 1024
_BARE_HOST = re.compile(r"^(?:[a-z0-9-]+\.)+[a-z]{2,}$", re.I)


def payloads(host: str, point: InputPoint) -> list[str]:
    """The off-origin targets on ``host`` for ``point``: the four spellings, then two that pass
    a naive "starts with our own URL" check (``http://app:port@H/``, ``http://app.H/``), and
    the bare host when the sample value is a bare host name."""
    parts = urlsplit(point.url)
    scheme, netloc, own = parts.scheme or "http", parts.netloc, parts.hostname or ""
    out = [f"https://{host}/", f"//{host}", f"/\\{host}", f"https:{host}",
           f"{scheme}://{netloc}@{host}/"]
    if own and ":" not in own:
        out.append(f"{scheme}://{own}.{host}/")
    if _BARE_HOST.match(point.original().strip()):
        out.append(host)
    return out


def looks_like_target(point: InputPoint) -> bool:
    """Whether the point's name or sample value says it carries a redirect target."""
    name = point.name.rsplit(".", 1)[-1].lower()
    compact = re.sub(r"[^a-z0-9]", "", name)
    if compact in _NAMES or any(part in compact for part in _NAME_PARTS):
        return point.kind is not InputKind.PATH or _url_like(point.original())
    return _url_like(point.original()) or (
        point.kind is not InputKind.PATH and point.original().startswith("/"))


def _url_like(value: str) -> bool:
    low = value.strip().lower()
    return low.startswith(("http://", "https://", "//")) or "://" in low[:20]


def browser_host(target: str, base_url: str) -> str | None:
    """The host a browser on ``base_url`` goes to for ``target``, None when it stays on the
    base's origin or leaves for a non-HTTP scheme (``javascript:``, ``mailto:`` …)."""
    value = target.strip(_C0_SPACE)
    value = value.replace("\t", "").replace("\n", "").replace("\r", "")
    base_scheme = urlsplit(base_url).scheme.lower() or "http"
    match = _SCHEME.match(value)
    if match:
        scheme, rest = match.group(1).lower(), match.group(2)
        if scheme not in _SPECIAL:
            return None
        rest = _slashes(rest)
        if scheme == base_scheme and not rest.startswith("/"):
            return None  # "http:foo" on an http page is a relative path
        return _authority_host(rest.lstrip("/"))
    value = _slashes(value)
    if value.startswith("//"):
        return _authority_host(value.lstrip("/"))
    return None


def _slashes(value: str) -> str:
    """Backslashes read as slashes before the query (what browsers do for http(s) URLs)."""
    cut = len(value)
    for mark in ("?", "#"):
        at = value.find(mark)
        if at != -1:
            cut = min(cut, at)
    return value[:cut].replace("\\", "/") + value[cut:]


def _authority_host(rest: str) -> str | None:
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    authority = authority.rsplit("@", 1)[-1]
    if authority.startswith("["):
        host = authority.split("]", 1)[0] + "]"
    else:
        host = authority.split(":", 1)[0]
    host = unquote(host).strip().lower().rstrip(".")
    return host or None


def redirect_targets(response: Response) -> list[tuple[str, str]]:
    """Where the response sends a browser: (how, raw target) pairs."""
    out: list[tuple[str, str]] = []
    if 300 <= response.status < 400:
        for value in response.header_all("location"):
            out.append(("Location header", value))
    for value in response.header_all("refresh"):
        out.append(("Refresh header", _refresh_target(value)))
    if response.is_html and response.body:
        text = response.text[:_MAX_SCAN]
        for tag in _META.findall(text):
            content = _CONTENT.search(tag)
            if content:
                raw = next(g for g in content.groups() if g is not None)
                out.append(("meta refresh", _refresh_target(html.unescape(raw))))
        for script in _SCRIPT.findall(text):
            for match in _JS.finditer(script):
                literal = match.group(2) or match.group(4) or match.group(6) or ""
                out.append(("script location", _js_unescape(literal)))
    return out


def _refresh_target(value: str) -> str:
    match = _REFRESH_URL.match(value)
    target = (match.group(1) if match else value).strip()
    if len(target) >= 2 and target[0] == target[-1] and target[0] in "\"'":
        target = target[1:-1]
    return target


def _js_unescape(literal: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code.startswith("x"):
            return chr(int(code[1:], 16))
        if code.startswith("u{"):
            return chr(min(int(code[2:-1], 16), 0x10FFFF))
        if code.startswith("u") and len(code) == 5:
            return chr(int(code[1:], 16))
        return {"n": "\n", "t": "\t", "r": "\r"}.get(code, code)
    return _JS_ESCAPE.sub(one, literal)


class RedirectProbe:
    """Open redirect: see the module docstring."""

    kind = KIND

    def applies(self, point: InputPoint, site: Site) -> bool:
        return point.kind in _POINT_KINDS and point.route not in site.unauthorised \
            and looks_like_target(point)

    def run(self, ctx: ProbeContext, point: InputPoint) -> list[WebFinding]:
        host = f"{ctx.canary()}.example"
        for payload in payloads(host, point):
            request = point.request(payload)
            response = ctx.client.send(request)
            for how, target in redirect_targets(response):
                landed = browser_host(target, request.url)
                if landed is None or not (landed == host or landed.endswith("." + host)):
                    continue
                scripted = how == "script location"
                return [WebFinding(
                    kind=KIND, title="Open redirect", severity=Severity.MEDIUM,
                    url=request.url, method=request.method, param=point.label,
                    message=(f"The value of {point.label} sends the browser off-site: "
                             f"{payload!r} answered with a {how} to {target!r}, which a "
                             f"browser resolves to the host {landed}."),
                    evidence=(Exchange(request, response),), proof=target[:500],
                    confidence=Confidence.MEDIUM if scripted else Confidence.HIGH, cwe=CWE,
                    remediation=("Redirect only to relative paths of this site or to an "
                                 "allowlist of hosts; parse the target as a browser would "
                                 "(backslashes, scheme-relative //host) before checking it."),
                )]
        return []


PROBES = [RedirectProbe()]
