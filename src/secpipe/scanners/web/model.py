"""The web scanner's shared types: requests, responses, input points, findings, the site.

Every part of ``scan-web`` speaks these: the HTTP client (:mod:`.http`) turns a :class:`Request`
into a :class:`Response`; the crawler (:mod:`.crawl`) builds a :class:`Site` of pages and
:class:`InputPoint` objects; passive checks read :class:`Exchange` objects; active probes ask an
input point for a request carrying their value (:meth:`InputPoint.request`) and return
:class:`WebFinding` objects, which the step (:mod:`.step`) turns into secpipe findings with the
evidence and a replay command. Nothing here does I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from secpipe.core.findings import Confidence, Severity

Headers = tuple[tuple[str, str], ...]


def header_of(headers: Headers, name: str) -> str | None:
    """The first value of header ``name`` (case-insensitive), else None."""
    low = name.lower()
    for key, value in headers:
        if key.lower() == low:
            return value
    return None


def headers_of(headers: Headers, name: str) -> list[str]:
    """Every value of header ``name`` (case-insensitive), in order."""
    low = name.lower()
    return [value for key, value in headers if key.lower() == low]


class ScanError(Exception):
    """Base of the web scanner's own exceptions."""


class OutOfScope(ScanError):
    """A request to a URL outside the configured origins: never sent."""


class BudgetExhausted(ScanError):
    """The request or time budget is spent: the scan stops and says so (``web.scan-incomplete``)."""


class Cancelled(ScanError):
    """The step's cancel event is set (timeout, Ctrl-C)."""


@dataclass(frozen=True)
class Request:
    """One HTTP request, as sent (absolute URL)."""

    method: str
    url: str
    headers: Headers = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return header_of(self.headers, name)

    def with_header(self, name: str, value: str) -> Request:
        """This request with header ``name`` set to ``value`` (replacing any)."""
        low = name.lower()
        kept = tuple((k, v) for k, v in self.headers if k.lower() != low)
        return replace(self, headers=(*kept, (name, value)))

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"


@dataclass(frozen=True)
class Response:
    """What came back. ``status`` 0 means no HTTP response at all (``error`` says why)."""

    status: int
    reason: str = ""
    headers: Headers = ()
    body: bytes = b""
    """At most the client's ``max_body_bytes``; ``truncated`` says when more was sent."""
    elapsed: float = 0.0
    """Seconds from sending the request to the end of the body read."""
    truncated: bool = False
    error: str = ""
    """``timeout``, ``connection refused``, ``connection reset`` …, when status is 0."""
    url: str = ""

    def header(self, name: str) -> str | None:
        return header_of(self.headers, name)

    def header_all(self, name: str) -> list[str]:
        return headers_of(self.headers, name)

    @property
    def content_type(self) -> str:
        """The media type, lower case, without parameters (``text/html``); '' when absent."""
        value = self.header("content-type") or ""
        return value.split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str:
        value = self.header("content-type") or ""
        for part in value.split(";")[1:]:
            key, _, val = part.strip().partition("=")
            if key.lower() == "charset" and val:
                return val.strip('"').lower()
        return "utf-8"

    @property
    def text(self) -> str:
        """The body decoded (its charset, else UTF-8; undecodable bytes replaced)."""
        try:
            return self.body.decode(self.charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")

    @property
    def is_html(self) -> bool:
        return self.content_type in ("text/html", "application/xhtml+xml")

    @property
    def ok(self) -> bool:
        """An HTTP response arrived (any status)."""
        return self.status > 0


@dataclass(frozen=True)
class Exchange:
    """A request and the response it got."""

    request: Request
    response: Response


class InputKind(StrEnum):
    """Where an input point's value travels."""

    QUERY = "query"
    FORM = "form"
    JSON = "json"
    PATH = "path"
    HEADER = "header"
    COOKIE = "cookie"


_MISSING = object()


def _json_set(doc: Any, dotted: str, value: Any) -> Any:
    """A copy of ``doc`` with the value at ``dotted`` (``a.b.0.c``) replaced."""
    if not dotted:
        return value
    head, _, rest = dotted.partition(".")
    if isinstance(doc, list):
        index = int(head)
        out = list(doc)
        out[index] = _json_set(out[index], rest, value)
        return out
    if isinstance(doc, dict):
        out_d = dict(doc)
        out_d[head] = _json_set(out_d.get(head), rest, value)
        return out_d
    return value


def _json_get(doc: Any, dotted: str) -> Any:
    for part in [p for p in dotted.split(".") if p]:
        if isinstance(doc, list):
            try:
                doc = doc[int(part)]
            except (ValueError, IndexError):
                return _MISSING
        elif isinstance(doc, dict):
            if part not in doc:
                return _MISSING
            doc = doc[part]
        else:
            return _MISSING
    return doc


@dataclass(frozen=True)
class InputPoint:
    """One place a probe can put a value: a query or form parameter, a JSON field, a path
    segment, a header or a cookie of one request shape.

    ``url`` is the request's URL without the query for QUERY points (the other query
    parameters are in ``params``); for PATH points it is the full URL and ``name`` is the index
    of the path segment (``"2"`` in ``/item/42/view`` is ``view``). ``params`` holds every
    parameter of the request with its sample value (QUERY and FORM); ``json_body`` the sample
    body (JSON points; ``name`` is a dotted path into it). ``headers`` are extra headers the
    request always carries (a form's content type is added by :meth:`request`).
    """

    kind: InputKind
    method: str
    url: str
    name: str
    params: tuple[tuple[str, str], ...] = ()
    json_body: str = ""
    headers: Headers = ()
    source: str = ""
    """How the crawler found it: ``link``, ``form``, ``openapi``, ``guess`` …"""

    @property
    def route(self) -> str:
        """The path (no query) the point belongs to."""
        return urlsplit(self.url).path or "/"

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity for de-duplication: (kind, method, route, name); a PATH point's route is
        its path with the probed segment replaced by ``{}``."""
        route = self.route
        if self.kind is InputKind.PATH:
            segments = route.split("/")
            index = int(self.name)
            if 0 <= index < len(segments):
                segments[index] = "{}"
            route = "/".join(segments)
        return (self.kind.value, self.method.upper(), route, self.name)

    @property
    def label(self) -> str:
        """The parameter as a person reads it: ``q``, ``body.user.name``, ``path[2]``."""
        if self.kind is InputKind.PATH:
            return f"path[{self.name}]"
        if self.kind is InputKind.HEADER:
            return f"header {self.name}"
        if self.kind is InputKind.COOKIE:
            return f"cookie {self.name}"
        return self.name

    def original(self) -> str:
        """The sample value the crawler saw (or made up) for this point."""
        if self.kind in (InputKind.QUERY, InputKind.FORM):
            for key, value in self.params:
                if key == self.name:
                    return value
            return ""
        if self.kind is InputKind.JSON:
            try:
                value = _json_get(json.loads(self.json_body or "{}"), self.name)
            except ValueError:
                return ""
            return "" if value is _MISSING or value is None else str(value)
        if self.kind is InputKind.PATH:
            segments = urlsplit(self.url).path.split("/")
            index = int(self.name)
            return segments[index] if 0 <= index < len(segments) else ""
        if self.kind is InputKind.HEADER:
            return header_of(self.headers, self.name) or ""
        return ""

    def sample_request(self) -> Request:
        """The request with the point's sample value as the crawler saw it (a JSON number or
        list stays one: the baseline a probe compares with)."""
        if self.kind is InputKind.JSON:
            try:
                value = _json_get(json.loads(self.json_body or "{}"), self.name)
            except ValueError:
                value = _MISSING
            if value is not _MISSING:
                return self.request("", raw_json=value)
        return self.request(self.original())

    def request(self, value: str, *, append: bool = False, raw_json: Any = _MISSING) -> Request:
        """The request with this point set to ``value`` (after the sample when ``append``).

        For JSON points, ``raw_json`` puts a non-string value (a number, a list, a huge object)
        at the point instead; the value is URL-encoded by this method where the point needs it.
        """
        final = self.original() + value if append else value
        method = self.method.upper()
        headers = self.headers
        parts = urlsplit(self.url)
        if self.kind is InputKind.QUERY:
            params = _replace_param(self.params, self.name, final)
            url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(params), ""))
            return Request(method, url, headers)
        if self.kind is InputKind.FORM:
            params = _replace_param(self.params, self.name, final)
            body = urlencode(params).encode()
            if method == "GET":
                url = urlunsplit((parts.scheme, parts.netloc, parts.path, body.decode(), ""))
                return Request(method, url, headers)
            headers = _set(headers, "Content-Type", "application/x-www-form-urlencoded")
            return Request(method, self.url, headers, body)
        if self.kind is InputKind.JSON:
            try:
                doc = json.loads(self.json_body or "{}")
            except ValueError:
                doc = {}
            new = _json_set(doc, self.name, final if raw_json is _MISSING else raw_json)
            headers = _set(headers, "Content-Type", "application/json")
            return Request(method, self.url, headers, json.dumps(new).encode())
        if self.kind is InputKind.PATH:
            segments = parts.path.split("/")
            segments[int(self.name)] = quote(final, safe="")
            url = urlunsplit((parts.scheme, parts.netloc, "/".join(segments), parts.query, ""))
            return Request(method, url, headers)
        if self.kind is InputKind.HEADER:
            return Request(method, self.url, _set(headers, self.name, final))
        cookie = f"{self.name}={quote(final, safe='')}"
        return Request(method, self.url, _set(headers, "Cookie", cookie))


def _replace_param(params: tuple[tuple[str, str], ...], name: str,
                   value: str) -> list[tuple[str, str]]:
    out = [(k, value if k == name else v) for k, v in params]
    if not any(k == name for k, _ in params):
        out.append((name, value))
    return out


def _set(headers: Headers, name: str, value: str) -> Headers:
    low = name.lower()
    return (*((k, v) for k, v in headers if k.lower() != low), (name, value))


@dataclass(frozen=True)
class WebFinding:
    """What a check or probe found, before it becomes a secpipe :class:`Finding`.

    ``kind`` is one of the vocabulary of ``docs/dast-design.md`` (the rule id is
    ``web.<kind>``); ``route`` the path it concerns; ``param`` the input point's label (''
    for a page-level finding); ``evidence`` the exchanges that show it (the step redacts and
    bounds them); ``proof`` the exact text that decided it.
    """

    kind: str
    title: str
    severity: Severity
    url: str
    message: str
    method: str = "GET"
    param: str = ""
    evidence: tuple[Exchange, ...] = ()
    proof: str = ""
    confidence: Confidence = Confidence.HIGH
    cwe: str = ""
    """``CWE-79`` …"""
    remediation: str = ""
    detail: str = ""
    """What distinguishes two findings of one kind on one route (a header name, a cookie
    name); part of the fingerprint."""

    @property
    def route(self) -> str:
        return urlsplit(self.url).path or "/"


@dataclass
class Site:
    """What the crawler learnt about a target; probes and site checks read it."""

    base_url: str
    """The URL the scan started at."""
    origins: tuple[str, ...]
    """``scheme://host:port`` values in scope."""
    pages: list[Exchange] = field(default_factory=list)
    """Every response the crawl fetched (GET pages, forms' targets, API answers)."""
    points: list[InputPoint] = field(default_factory=list)
    """Every input point found, de-duplicated by :attr:`InputPoint.key`."""
    not_found: Response | None = None
    """The answer to a random path that cannot exist: the soft-404 baseline."""
    openapi: dict[str, Any] | None = None
    """The OpenAPI document the app publishes, when it does."""
    robots: str = ""
    """``/robots.txt`` as text, when present."""
    unauthorised: set[str] = field(default_factory=set)
    """Routes that answered 401/403 to the scanner (not probed as vulnerable)."""
    incomplete: list[str] = field(default_factory=list)
    """Why the crawl stopped early (budget, time, errors), for ``web.scan-incomplete``."""


class Sender(Protocol):
    """What probes and checks need of the HTTP client (:class:`.http.Client` implements it)."""

    def send(self, request: Request, *, timeout: float | None = None) -> Response:
        """Send ``request`` (in scope, within budget), return the response. Raises
        :class:`OutOfScope`, :class:`BudgetExhausted`, :class:`Cancelled`."""
        ...

    def in_scope(self, url: str) -> bool:
        """Whether ``url``'s origin is one the scan may send to."""
        ...

    @property
    def sent(self) -> int:
        """Requests sent so far."""
        ...
