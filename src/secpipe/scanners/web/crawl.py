"""The bounded crawler of ``scan-web``: what a target offers to test, as a :class:`Site`.

Breadth first from the start URL, GET only, within the scope (the client's origins), at most
``max_pages`` fetches and ``max_depth`` links deep; redirects inside the scope are followed (at
most :data:`MAX_REDIRECTS` in a row, each counted as a page), redirects out of scope never.
Before the pages it reads ``/robots.txt`` and ``/sitemap.xml`` (their paths are crawled too,
in scope only), looks for a published OpenAPI / Swagger document (:mod:`.openapi`) and fetches a
random path that cannot exist: the soft-404 baseline (``site.not_found``). HTML is parsed with
secpipe's linear-time HTML reader (``passive.html``; never executed): links of ``a``,
``link``, ``area``, ``iframe``, ``frame``, ``script src``, meta refresh, forms with their inputs,
selects and text areas, and ``fetch('/api/...')``-style URLs in inline scripts as weak hints.
A form is never submitted with POST while crawling: its shape becomes input points. GET forms
are fetched once with sample values.

Input points: every query parameter of an in-scope link, every field of a form (GET and POST),
the fields of JSON bodies and the parameters the OpenAPI document names, path segments of
linked URLs that look like ids or names, the fields of JSON object literals inline scripts POST,
and the ``User-Agent`` header of HTML pages (at most :data:`MAX_HEADER_ROUTES`); de-duplicated
by :attr:`InputPoint.key`, at most ``max_points_per_route`` per route. Routes that answer
401/403 go to ``site.unauthorised``. Every reason the crawl stopped early (page limit, budgets,
an unreachable or out-of-scope start, a response cut at the body limit) and every coverage cap
hit (an OpenAPI document too large, cut or with more operations than are read, pages with more
than :data:`MAX_LINKS_PER_PAGE` links, a page longer than :data:`MAX_HTML_CHARS`, the
:data:`MAX_QUEUE` URL limit) goes to ``site.incomplete``, one sentence per cap with a count and
an example: the step reports it as ``web.scan-incomplete``.
"""

from __future__ import annotations

import fnmatch
import json
import re
import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urldefrag, urlencode, urljoin, urlsplit, urlunsplit

from secpipe.scanners.web import openapi
from secpipe.scanners.web.http import origin_of
from secpipe.scanners.web.model import (
    BudgetExhausted,
    Exchange,
    InputKind,
    InputPoint,
    Request,
    Response,
    Sender,
    Site,
)

MAX_REDIRECTS = 5
MAX_HTML_CHARS = 1 << 20
"""Most characters of one page parsed for links (the rest is kept as evidence only)."""
MAX_LINKS_PER_PAGE = 500
MAX_FIELDS_PER_FORM = 64
MAX_QUEUE = 20_000
MAX_ROBOTS_PATHS = 200
MAX_SITEMAP_URLS = 1000
MAX_HEADER_ROUTES = 40
SAMPLE_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) secpipe-dast/1"
_FETCH = re.compile(r"""(?:fetch|axios(?:\.(?:get|post))?|\$\.(?:get|post|getJSON)|open)\s*\(\s*
                        (?:['"][A-Z]+['"]\s*,\s*)?['"`]((?:/|https?://)[^'"`\s<>]{1,300})['"`]""",
                    re.VERBOSE)
_STRINGIFY = re.compile(r"JSON\.stringify\(\s*(\{[^;]{0,2000}?\})\s*\)")
_SECOND_ARG = re.compile(r"^\s*,\s*(\{[^;]{0,2000}?\})\s*[,)]")
_JS_KEY = re.compile(r"""([{,]\s*)(?:([A-Za-z_$][\w$]{0,63})|'([^'\\]{1,64})')\s*:""")
_LOC = re.compile(r"<loc>\s*([^<\s]{1,2000})\s*</loc>", re.IGNORECASE)
_ID = re.compile(r"^(?:\d{1,19}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                 r"[0-9a-fA-F]{12}|[0-9a-fA-F]{16,64})$")
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@~-]{0,63}$")
_STATIC = re.compile(r"\.(?:css|js|mjs|map|png|jpe?g|gif|svg|ico|webp|woff2?|ttf|eot|mp[34]|"
                     r"webm)$", re.IGNORECASE)
_SKIP_INPUTS = frozenset({"button", "image", "reset", "file"})


@dataclass
class CrawlSettings:
    """Bounds and exclusions of one crawl."""

    origins: tuple[str, ...]
    max_pages: int = 500
    max_depth: int = 10
    max_points_per_route: int = 50
    exclude_urls: tuple[str, ...] = ()
    """Globs of URLs (or paths) never fetched nor probed."""
    excluded: Callable[[str], bool] = lambda url: False
    """More URLs never fetched (the login URL, logout links: :meth:`.auth.Auth.excluded`)."""
    cancel: threading.Event = field(default_factory=threading.Event)
    log: Callable[[str], None] = lambda message: None
    progress: Callable[[int, int | None, str], None] = lambda done, total, what: None


def normalise(url: str) -> str:
    """``url`` without its fragment, an empty path as ``/``."""
    url, _ = urldefrag(url)
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/",
                       parts.query, ""))


def is_excluded(url: str, settings: CrawlSettings) -> bool:
    path = urlsplit(url).path or "/"
    return settings.excluded(url) or any(
        fnmatch.fnmatchcase(url, glob) or fnmatch.fnmatchcase(path, glob)
        for glob in settings.exclude_urls)


@dataclass
class Form:
    """A form's shape as the page states it."""

    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    enctype: str = ""


class PageParser:
    """Links, forms and script hints of one HTML page (bounded, linear time).

    Built on the passive checks' reader (:func:`secpipe.scanners.web.passive.html.parse_html`):
    the standard library's ``HTMLParser`` is quadratic on hostile markup (200 KB of unclosed
    ``<!--`` took 30 s here), and a scanned page is hostile input. ``feed`` the whole page once
    (a later ``feed`` reads another document into the same lists); ``close`` does nothing."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.links: list[str] = []
        self.forms: list[Form] = []
        self.hints: list[str] = []
        self.json_calls: list[tuple[str, dict[str, object]]] = []
        """(URL, sample body) of script calls that POST a JSON object literal."""
        self.dropped = 0
        """Links and hints past :data:`MAX_LINKS_PER_PAGE`, not followed."""

    def close(self) -> None:
        return None

    def feed(self, text: str) -> None:
        from secpipe.scanners.web.passive.html import parse_html

        doc = parse_html(text)
        for tag, attrs in doc.tags:  # the first <base href> applies to every link
            if tag == "base" and attrs.get("href"):
                self.base = urljoin(self.base, attrs["href"])
                break
        for href in doc.anchors:
            self._link(href)
        for index, (tag, a) in enumerate(doc.tags):
            if tag in ("area", "link"):
                if tag == "area" or a.get("rel", "").lower() not in (
                        "stylesheet", "icon", "preload", "dns-prefetch"):
                    self._link(a.get("href"))
            elif tag in ("iframe", "frame"):
                self._link(a.get("src"))
            elif tag == "script":
                if a.get("src"):
                    self._link(a["src"])
                self._script(doc.texts.get(index, ""))
            elif tag == "meta" and a.get("http-equiv", "").lower() == "refresh":
                match = re.search(r"url\s*=\s*['\"]?([^'\"\s>]+)", a.get("content", ""), re.I)
                if match:
                    self._link(match.group(1))
        for page_form in doc.forms:
            action = (urljoin(self.base, page_form.action) if page_form.action.strip()
                      else self.base)
            form = Form(action, (page_form.method or "get").upper(), [], "")
            self.forms.append(form)
            for field_attrs in page_form.fields:
                self._field(form, field_attrs)

    def _field(self, form: Form, a: dict[str, str]) -> None:
        tag, name = a.get("tag", ""), a.get("name")
        kind = a.get("type", "text").lower()
        if not name or len(form.fields) >= MAX_FIELDS_PER_FORM:
            return
        if tag == "input" and kind in _SKIP_INPUTS:
            return
        if tag == "button" and kind not in ("submit", ""):
            return
        if kind in ("checkbox", "radio") and any(n == name for n, _ in form.fields):
            return
        if tag == "select":
            value = a.get("#option") or "1"
        elif tag == "textarea":
            value = a.get("#text", "").strip() or sample_input(name, "text")
        else:
            value = a.get("value") or sample_input(name, kind)
        form.fields.append((name, value))

    def _link(self, value: str | None) -> None:
        if value and len(self.links) >= MAX_LINKS_PER_PAGE:
            self.dropped += 1
        elif value:
            value = value.strip()
            if value and not value.lower().startswith(("javascript:", "mailto:", "data:",
                                                       "tel:", "#")):
                self.links.append(urljoin(self.base, value))

    def _script(self, text: str) -> None:
        for match in _FETCH.finditer(text):
            if len(self.hints) >= MAX_LINKS_PER_PAGE:
                self.dropped += 1
                continue
            url = urljoin(self.base, match.group(1))
            self.hints.append(url)
            body = js_post_body(match.group(0), text[match.end():match.end() + 2500])
            if body:
                self.json_calls.append((url, body))


def js_post_body(call: str, after: str) -> dict[str, object] | None:
    """The JSON body a script call sends, when it POSTs an object literal: ``fetch(url,
    {method: 'POST', body: JSON.stringify({a: 1, b: x})})`` or ``axios.post(url, {a: 1})``.
    Literal values are kept; other values (variables, expressions) get samples by key name."""
    nxt = _FETCH.search(after)
    window = after[:nxt.start()] if nxt else after
    is_post = ".post" in call.lower() or bool(re.search(r"""method\s*:\s*['"]post['"]""",
                                                          window[:800], re.IGNORECASE))
    if not is_post:
        return None
    found = _STRINGIFY.search(window) or (_SECOND_ARG.search(window) if ".post" in
                                          call.lower() else None)
    if found is None:
        return None
    literal = found.group(1)
    try:
        value = json.loads(_as_json(literal))
        if isinstance(value, dict) and value:
            return value
    except (ValueError, RecursionError):
        pass
    out: dict[str, object] = {}
    for part in _top_level(literal.strip()[1:-1])[:MAX_FIELDS_PER_FORM]:
        key = re.match(r"""\s*(?:([A-Za-z_$][\w$]{0,63})|'([^']{1,64})'|"([^"]{1,64})")\s*:""",
                       part)
        if key is None:
            continue
        name = key.group(1) or key.group(2) or key.group(3)
        raw = part[key.end():].strip()
        try:
            out[name] = json.loads(_as_json(raw))
        except (ValueError, RecursionError):
            out[name] = openapi.sample_for_name(name)
    return out or None


def _as_json(literal: str) -> str:
    """A JavaScript object literal with bare or single-quoted keys and single-quoted strings
    written as JSON (good enough for literals of constants; anything else fails to parse)."""
    quoted = _JS_KEY.sub(lambda m: f'{m.group(1)}"{m.group(2) or m.group(3)}":', literal)
    return quoted.replace("'", '"')


def _top_level(text: str) -> list[str]:
    """``text`` split at the commas outside brackets and strings."""
    parts: list[str] = []
    depth, quote, start = 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p for p in parts if p.strip()]


def sample_input(name: str, kind: str) -> str:
    """A value a form would accept for an input of ``kind`` called ``name``."""
    by_kind = {"email": "user@example.com", "number": "1", "range": "1", "url":
               "https://example.com/", "tel": "5550100", "date": "2024-01-01",
               "datetime-local": "2024-01-01T00:00", "month": "2024-01", "week": "2024-W01",
               "time": "12:00", "color": "#000000", "password": "Secret123!",
               "checkbox": "on", "radio": "on", "search": "test", "hidden": ""}
    if kind in by_kind and kind not in ("hidden", "text"):
        return by_kind[kind]
    return openapi.sample_for_name(name)


class Crawler:
    """One crawl (see the module docstring)."""

    def __init__(self, client: Sender, start: str, settings: CrawlSettings) -> None:
        self.client = client
        self.start = normalise(start)
        self.settings = settings
        self.site = Site(base_url=start, origins=settings.origins)
        self.seen: set[str] = set()
        self.queue: deque[tuple[str, int]] = deque()
        self.fetched = 0
        self._keys: set[tuple[str, str, str, str]] = set()
        self._per_route: dict[str, int] = {}
        self._header_routes = 0
        self._capped: dict[str, list[str]] = {}
        """cap name -> URLs where it was hit (see :meth:`_cap_notes`)."""
        self._unqueued = 0

    # --- queue -------------------------------------------------------------------------------
    def enqueue(self, url: str, depth: int) -> None:
        url = normalise(url)
        if url in self.seen:
            return
        if not self.client.in_scope(url) or is_excluded(url, self.settings):
            return
        if len(self.seen) >= MAX_QUEUE:
            self._unqueued += 1
            return
        self.seen.add(url)
        self.queue.append((url, depth))

    def add_point(self, point: InputPoint) -> None:
        if not self.client.in_scope(point.url) or is_excluded(point.url, self.settings):
            return
        key = point.key
        if key in self._keys:
            return
        route = key[2]
        if self._per_route.get(route, 0) >= self.settings.max_points_per_route:
            return
        self._keys.add(key)
        self._per_route[route] = self._per_route.get(route, 0) + 1
        self.site.points.append(point)

    # --- fetching ----------------------------------------------------------------------------
    def fetch(self, url: str) -> Response:
        response = self.client.send(Request("GET", url))
        self.fetched += 1
        return response

    def run(self) -> Site:
        try:
            self._run()
        except BudgetExhausted as exc:
            self.site.incomplete.append(f"crawl stopped: {exc}")
        self._cap_notes()
        cut = [ex.request.url for ex in self.site.pages if ex.response.truncated]
        if cut:
            self.site.incomplete.append(
                f"{len(cut)} response(s) cut at the body limit or the request timeout, read "
                f"only in part (e.g. {cut[0]})")
        return self.site

    def _cap(self, name: str, url: str) -> None:
        self._capped.setdefault(name, []).append(url)

    def _cap_notes(self) -> None:
        """One ``site.incomplete`` sentence per coverage cap hit (count and an example)."""
        pages = self._capped.get("links", [])
        if pages:
            self.site.incomplete.append(
                f"{len(pages)} page(s) have more than {MAX_LINKS_PER_PAGE} links: the links "
                f"past the limit were not followed (coverage cap; e.g. {pages[0]})")
        long = self._capped.get("html", [])
        if long:
            self.site.incomplete.append(
                f"{len(long)} page(s) longer than {MAX_HTML_CHARS} characters: only their "
                f"start was read for links and forms (coverage cap; e.g. {long[0]})")
        if self._unqueued:
            self.site.incomplete.append(
                f"the crawl's URL limit of {MAX_QUEUE} was reached: {self._unqueued} in-scope "
                "URL(s) found later were not crawled (coverage cap)")

    def _openapi_too_big(self, url: str, response: Response) -> bool:
        """Whether ``response`` looks like an OpenAPI document too large (or cut) to read; if
        so, say so in ``site.incomplete``."""
        if response.status != 200 or not (response.truncated or
                                          len(response.body) > openapi.MAX_DOC_BYTES):
            return False
        head = response.body[:100_000]
        if not head.lstrip().startswith(b"{") or not (b'"openapi"' in head or
                                                      b'"swagger"' in head):
            return False
        self.site.incomplete.append(
            f"the OpenAPI document {url} is larger than {openapi.MAX_DOC_BYTES} bytes or was "
            "cut at the body limit: its operations were not read (coverage cap)")
        return True

    def _run(self) -> None:
        self.seen.add(self.start)
        first = self.fetch(self.start)
        if not first.ok:
            self.site.incomplete.append(
                f"the start URL {self.start} did not answer ({first.error or 'no response'})")
            self.site.pages.append(Exchange(Request("GET", self.start), first))
            return
        self._baseline()
        self._robots()
        self._openapi()
        self._handle(self.start, first, 0, redirects=0)
        while self.queue:
            if self.settings.cancel.is_set():
                self.site.incomplete.append("crawl cancelled")
                return
            if self.fetched >= self.settings.max_pages:
                self.site.incomplete.append(
                    f"page limit of {self.settings.max_pages} reached with "
                    f"{len(self.queue)} URL(s) not crawled (max_pages)")
                return
            url, depth = self.queue.popleft()
            response = self.fetch(url)
            self._handle(url, response, depth, redirects=0)
            self.settings.progress(self.fetched, None, f"crawled {url}")

    def _handle(self, url: str, response: Response, depth: int, redirects: int) -> None:
        self.site.pages.append(Exchange(Request("GET", url), response))
        self._points_of_url(url, "link")
        route = urlsplit(url).path or "/"
        if not response.ok:
            self.settings.log(f"crawl: {url}: {response.error}")
            return
        if response.status in (401, 403):
            self.site.unauthorised.add(route)
            return
        if 300 <= response.status < 400:
            self._redirect(url, response, depth, redirects)
            return
        if response.is_html and response.status == 200:
            self._header_point(url)
        if response.is_html and depth < self.settings.max_depth:
            self._parse_html(url, response, depth)
        elif response.content_type.endswith("json") and depth == 0 and \
                self.site.openapi is None:
            if self._openapi_too_big(url, response):
                return
            doc = openapi.load_document(response.body)
            if doc is not None:
                self._use_openapi(url, doc)

    def _redirect(self, url: str, response: Response, depth: int, redirects: int) -> None:
        location = response.header("location")
        if not location:
            return
        target = normalise(urljoin(url, location))
        if not self.client.in_scope(target):
            self.settings.log(f"crawl: {url} redirects out of scope to {origin_of(target)}: "
                              "not followed")
            if url == self.start:
                self.site.incomplete.append(
                    f"the start URL redirects out of scope ({origin_of(target)}): not followed")
            return
        if is_excluded(target, self.settings) or target in self.seen:
            return
        if redirects >= MAX_REDIRECTS:
            self.site.incomplete.append(f"{url}: more than {MAX_REDIRECTS} redirects")
            return
        if self.fetched >= self.settings.max_pages:
            return
        self.seen.add(target)
        self._handle(target, self.fetch(target), depth, redirects + 1)

    # --- discovery ---------------------------------------------------------------------------
    def _baseline(self) -> None:
        path = f"/{secrets.token_hex(8)}/{secrets.token_hex(4)}.html"
        url = urljoin(self.start, path)
        self.site.not_found = self.fetch(url)

    def _robots(self) -> None:
        response = self.fetch(urljoin(self.start, "/robots.txt"))
        sitemaps = [urljoin(self.start, "/sitemap.xml")]
        if response.status == 200 and not response.is_html:
            text = response.text[:200_000]
            self.site.robots = text
            self.site.pages.append(Exchange(Request("GET", response.url), response))
            count = 0
            for raw in text.splitlines():
                key, _, value = raw.partition(":")
                value = value.split("#", 1)[0].strip()
                key = key.strip().lower()
                if key == "sitemap" and value:
                    sitemaps.append(urljoin(self.start, value))
                elif key in ("allow", "disallow") and value.startswith("/") and count < \
                        MAX_ROBOTS_PATHS:
                    count += 1
                    path = value.split("*", 1)[0].split("$", 1)[0]
                    if path and path != "/":
                        self.enqueue(urljoin(self.start, path), 1)
        for sitemap in dict.fromkeys(sitemaps):
            if not self.client.in_scope(sitemap):
                continue
            answer = self.fetch(sitemap)
            if answer.status != 200 or answer.is_html:
                continue
            for match in list(_LOC.finditer(answer.text[:2_000_000]))[:MAX_SITEMAP_URLS]:
                self.enqueue(urljoin(self.start, match.group(1)), 1)

    def _openapi(self) -> None:
        for path in openapi.CANDIDATE_PATHS:
            url = urljoin(self.start, path)
            if is_excluded(url, self.settings):
                continue
            response = self.fetch(url)
            if self._openapi_too_big(url, response):
                return
            if response.status != 200 or response.truncated:
                continue
            doc = openapi.load_document(response.body)
            if doc is not None:
                self.site.pages.append(Exchange(Request("GET", url), response))
                self.seen.add(normalise(url))
                self._use_openapi(url, doc)
                return

    def _use_openapi(self, url: str, doc: dict[str, object]) -> None:
        self.site.openapi = doc
        points, urls = openapi.points_from(doc, url, notes=self.site.incomplete,
                                           cancel=self.settings.cancel)
        for point in points:
            self.add_point(point)
        for get_url in urls:
            self.enqueue(get_url, 1)

    def _parse_html(self, url: str, response: Response, depth: int) -> None:
        parser = PageParser(url)
        text = response.text
        if len(text) > MAX_HTML_CHARS:
            self._cap("html", url)
        try:
            parser.feed(text[:MAX_HTML_CHARS])
            parser.close()
        except (AssertionError, ValueError) as exc:  # a malformed page: what was read counts
            self.settings.log(f"crawl: {url}: HTML not fully parsed ({exc})")
        if parser.dropped:
            self._cap("links", url)
        for link in [*parser.links, *parser.hints]:
            if not self.client.in_scope(link):
                continue
            self._points_of_url(link, "link")
            if link.lower().endswith(("openapi.json", "swagger.json")) and \
                    self.site.openapi is None:
                self.enqueue(link, 0)
                continue
            self.enqueue(link, depth + 1)
        for form in parser.forms:
            self._form(form, depth)
        for call_url, body in parser.json_calls:
            if not self.client.in_scope(call_url):
                continue
            parts = urlsplit(call_url)
            url = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))
            text = json.dumps(body)
            for leaf in openapi.leaves(body):
                self.add_point(InputPoint(InputKind.JSON, "POST", url, leaf, json_body=text,
                                          source="script"))

    def _form(self, form: Form, depth: int) -> None:
        action = normalise(form.action)
        if not self.client.in_scope(action) or not form.fields:
            return
        method = "POST" if form.method == "POST" else "GET"
        parts = urlsplit(action)
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        fields = tuple(form.fields)
        if method == "POST" and "json" in form.enctype:
            body = dict(fields)
            for name, _ in fields:
                self.add_point(InputPoint(InputKind.JSON, method, url, name,
                                          json_body=json.dumps(body), source="form"))
            return
        for name, _ in fields:
            self.add_point(InputPoint(InputKind.FORM, method, url, name, fields,
                                      source="form"))
        if method == "GET":
            self.enqueue(f"{url}?{urlencode(fields)}", depth + 1)

    def _header_point(self, url: str) -> None:
        """The ``User-Agent`` header of an HTML page: apps log it, show it, or render it into
        templates (at most :data:`MAX_HEADER_ROUTES` pages)."""
        if self._header_routes >= MAX_HEADER_ROUTES:
            return
        before = len(self.site.points)
        self.add_point(InputPoint(InputKind.HEADER, "GET", url, "User-Agent",
                                  headers=(("User-Agent", SAMPLE_USER_AGENT),), source="page"))
        self._header_routes += len(self.site.points) - before

    def _points_of_url(self, url: str, source: str) -> None:
        parts = urlsplit(url)
        base = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))
        params = tuple(parse_qsl(parts.query, keep_blank_values=True))[:MAX_FIELDS_PER_FORM]
        for name, _ in params:
            self.add_point(InputPoint(InputKind.QUERY, "GET", base, name, params,
                                      source=source))
        segments = (parts.path or "/").split("/")
        if _STATIC.search(parts.path or ""):
            return
        for index, segment in enumerate(segments):
            # ids anywhere; names (slugs, file names) below the first folder: /models/bert/card
            if segment and (_ID.match(segment) or (index >= 2 and _SLUG.match(segment))):
                self.add_point(InputPoint(InputKind.PATH, "GET", base, str(index),
                                          source=source))


def crawl(client: Sender, start: str, settings: CrawlSettings) -> Site:
    """Crawl ``start`` within ``settings`` (see the module docstring); never raises on what the
    target answers. :class:`~.model.Cancelled` propagates."""
    return Crawler(client, start, settings).run()
