"""The dashboard's HTTP server: stdlib :class:`http.server.ThreadingHTTPServer`, read-only.

Security, in order of a request's path through :class:`Handler`:

- only ``GET`` and ``HEAD``: any other method (``POST``, ``PUT``, ``DELETE``, an invented one) is
  answered ``405`` with ``Allow: GET, HEAD``; nothing the server does writes anything;
- the ``Host`` header must name the address the server is bound to (or, bound to loopback,
  ``localhost``/``127.0.0.1``/``[::1]`` with its port; or a name given with ``--allow-host``):
  a page of another site that a DNS-rebinding attack points at 127.0.0.1 is refused (``421``);
- the request target is bounded (:data:`MAX_TARGET`), every query value too
  (:mod:`secpipe.serve.data`); routes are matched against the raw path by anchored patterns
  over run-id characters and a fixed list of report names, so an encoded ``..`` matches nothing;
- every answer carries a strict Content-Security-Policy (no script at all, styles and images from
  the page's own origin, ``frame-ancestors 'none'``), ``X-Content-Type-Options: nosniff``,
  ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store``;
  a rendered HTML report gets the report's own policy (its one hashed filter script) plus
  ``frame-ancestors 'none'``;
- at most :data:`MAX_CLIENTS` requests are handled at once (more get ``503``), each socket times
  out after :data:`TIMEOUT` seconds; an unexpected error is a bare ``500`` (details go to the
  server's log, never to the client).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import socket
import sys
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from secpipe.core.errors import InputError, SecpipeError, StoreError
from secpipe.reports import FORMATS
from secpipe.reports.escape import printable
from secpipe.runstore.records import RunRecord
from secpipe.runstore.sqlite import RunStore
from secpipe.serve import data, views

MAX_TARGET = 2048
"""Longest request target (path and query) accepted."""
MAX_CLIENTS = 16
"""Requests handled at once; one more is answered 503."""
TIMEOUT = 15.0
"""Seconds a client socket may stay silent."""
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")
"""The policy of every page the dashboard renders: no script can run."""
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)
_REF = r"(?P<ref>latest|[0-9a-f-]{1,64})"
_REPORT_TYPES = {"html": ("html", "text/html; charset=utf-8"),
                 "json": ("json", "application/json"),
                 "md": ("markdown", "text/plain; charset=utf-8"),
                 "sarif": ("sarif", "application/json")}
_META_CSP = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"<>]{1,500})">')


class Answer:
    """A response to send: status, body, content type, extra headers."""

    def __init__(self, status: int, body: bytes, ctype: str, csp: str = CSP,
                 headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.status, self.body, self.ctype, self.csp, self.headers = (status, body, ctype, csp,
                                                                      headers)


def _html(markup: str, status: int = 200) -> Answer:
    return Answer(status, markup.encode("utf-8"), "text/html; charset=utf-8")


def _json(value: Any, status: int = 200) -> Answer:
    text = json.dumps(value, indent=1, ensure_ascii=True, allow_nan=False)
    return Answer(status, text.encode("ascii"), "application/json")


def _error(status: int, detail: str, api: bool) -> Answer:
    phrase = HTTPStatus(status).phrase
    if api:
        return _json({"error": phrase, "detail": detail}, status)
    return _html(views.error_page(status, phrase, detail), status)


class Dashboard(ThreadingHTTPServer):
    """The server: where the run store is, which Host headers are ours, how many clients."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], db: Path, *, allow_hosts: tuple[str, ...] = (),
                 quiet: bool = False, log: Callable[[str], None] | None = None) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)
        self.db = db
        self.quiet = quiet
        self.log = log or (lambda text: print(text, file=sys.stderr, flush=True))
        self.slots = threading.BoundedSemaphore(MAX_CLIENTS)
        self.allowed_hosts = allowed_hosts(address[0], self.port, allow_hosts)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        host = str(self.server_address[0])
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}/"

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.sendall(b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                b"Connection: close\r\n\r\n")
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def open_store(self) -> RunStore:
        return data.ReadOnlyRunStore(self.db)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name) only ever means this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(str(i[4][0]).split("%")[0]).is_loopback
                               for i in infos)


def allowed_hosts(host: str, port: int, extra: tuple[str, ...] = ()) -> frozenset[str]:
    """The ``Host`` header values accepted: ``host:port`` of the bound address, the loopback
    names when it is loopback (or a wildcard), and each ``extra`` name (with the port when it
    has none)."""

    def fmt(name: str) -> str:
        name = name.lower()
        if ":" in name and not name.startswith("["):
            name = f"[{name}]"
        return f"{name}:{port}"

    names = {fmt(host)}
    if is_loopback(host) or host in ("0.0.0.0", "::", ""):  # noqa: S104 - named, not bound here
        names |= {fmt("localhost"), fmt("127.0.0.1"), fmt("::1")}
    for name in extra:
        name = name.strip().lower()
        with_port = (re.fullmatch(r"\[[0-9a-f:.]+\]:\d+", name) is not None
                     or re.fullmatch(r"[^:\[\]]+:\d+", name) is not None)
        names.add(name if with_port else fmt(name))
    return frozenset(names)


class Handler(BaseHTTPRequestHandler):
    """One request: routed by :data:`ROUTES`, answered with the security headers."""

    server: Dashboard
    server_version = "secpipe-serve"
    sys_version = ""
    timeout = TIMEOUT

    def version_string(self) -> str:
        return self.server_version  # no Python version in the Server header

    # -- methods ---------------------------------------------------------------------------
    def do_GET(self) -> None:  # http.server's naming
        self._answer(self._safe_route(), head=False)

    def do_HEAD(self) -> None:
        self._answer(self._safe_route(), head=True)

    def _safe_route(self) -> Answer:
        try:
            return self._route()
        except Exception as exc:  # even the error page failed: a fixed answer
            self.server.log(f"secpipe serve: internal error: {type(exc).__name__}")
            return Answer(500, b"internal error\n", "text/plain; charset=utf-8")

    def _refuse_method(self) -> None:
        answer = _error(405, "this dashboard is read-only: only GET and HEAD are allowed", False)
        answer.headers = (("Allow", "GET, HEAD"),)
        self._answer(answer, head=False)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # POST, PUT, DELETE, OPTIONS, TRACE, PATCH, anything else
            return self._refuse_method
        raise AttributeError(name)

    # -- routing ---------------------------------------------------------------------------
    def _route(self) -> Answer:
        target = self.path
        api = target.startswith("/api/")
        if len(target) > MAX_TARGET:
            return _error(414, f"the request target is longer than {MAX_TARGET} characters", api)
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in self.server.allowed_hosts:
            return _error(421, "this server does not answer for that host name (the Host header "
                          "must name the address it is bound to)", api)
        parts = urlsplit(target)
        try:
            query = parse_qs(parts.query, keep_blank_values=True, max_num_fields=20)
        except ValueError:
            return _error(400, "too many query parameters", api)
        for pattern, view in ROUTES:
            match = pattern.fullmatch(parts.path)
            if match:
                try:
                    return view(self.server, match.groupdict(), query)
                except InputError as exc:
                    return _error(400, exc.message, api)
                except StoreError as exc:
                    return _error(404, exc.message, api)
                except SecpipeError as exc:
                    return _error(500, exc.message, api)
                except Exception as exc:  # a bug: logged here, a bare 500 for the client
                    self.server.log(f"secpipe serve: internal error on {printable(target)}: "
                                    f"{type(exc).__name__}: {printable(str(exc))}")
                    return _error(500, "internal error (see the server's log)", api)
        return _error(404, "no such page", api)

    def _answer(self, answer: Answer, head: bool) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.ctype)
        self.send_header("Content-Length", str(len(answer.body)))
        self.send_header("Content-Security-Policy", answer.csp)
        for name, value in SECURITY_HEADERS + answer.headers:
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(answer.body)

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """http.server's own errors (a malformed request line, an over-long header) with the
        same headers as every other answer."""
        self.close_connection = True
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":  # unparsed: no version
            self.request_version = "HTTP/1.0"  # still answer with a status line and headers
        detail = message or explain or HTTPStatus(code).phrase
        self._answer(_error(code, detail, False), head=getattr(self, "command", "") == "HEAD")

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            self.server.log(printable(f"{self.address_string()} - {format % args}"))


# -- views -------------------------------------------------------------------------------------
Query = dict[str, list[str]]


def _with_store(server: Dashboard) -> RunStore | None:
    """The store, or None when no run was ever recorded here."""
    if not server.db.is_file():
        return None
    return server.open_store()


def _runs(server: Dashboard, query: Query) -> tuple[list[data.RunRow], str, int, bool]:
    pipeline = data.one(query, "pipeline")
    limit = data.number(query, "limit", data.DEFAULT_RUNS, 1, data.MAX_RUNS)
    store = _with_store(server)
    if store is None:
        return [], pipeline, limit, True
    try:
        return data.list_runs(store, limit, pipeline), pipeline, limit, False
    finally:
        store.close()


def view_runs(server: Dashboard, groups: dict[str, str], query: Query) -> Answer:
    rows, pipeline, limit, missing = _runs(server, query)
    return _html(views.runs_page(rows, pipeline, limit, missing))


def api_runs(server: Dashboard, groups: dict[str, str], query: Query) -> Answer:
    rows, _, _, _ = _runs(server, query)
    return _json({"runs": [data.run_summary(r) for r in rows]})


def _trends(server: Dashboard, query: Query) -> tuple[data.Trends, str, int, str]:
    pipeline = data.one(query, "pipeline")
    metric = data.one(query, "metric")
    limit = data.number(query, "limit", data.DEFAULT_RUNS, 1, data.MAX_RUNS)
    store = _with_store(server)
    if store is None:
        return data.Trends(runs=(), severities={}), pipeline, limit, metric
    try:
        return data.trends(store, limit, pipeline, metric), pipeline, limit, metric
    finally:
        store.close()


def view_trends(server: Dashboard, groups: dict[str, str], query: Query) -> Answer:
    return _html(views.trends_page(*_trends(server, query)))


def api_trends(server: Dashboard, groups: dict[str, str], query: Query) -> Answer:
    trend, _, _, _ = _trends(server, query)
    return _json({"runs": [r.run_id for r in trend.runs], "severities": trend.severities,
                  "metrics": trend.metrics, "more_metrics": trend.more_metrics})


def _run(server: Dashboard, ref: str) -> RunRecord:
    store = _with_store(server)
    if store is None:
        raise StoreError("no runs recorded yet")
    try:
        return data.load_run(store, ref)
    finally:
        store.close()


def view_run(server: Dashboard, groups: dict[str, str], query: Query) -> Answer:
    return _html(views.run_page(_run(server, groups["ref"])))


def api_run(server: Dashboard, groups: dict[str, str], query: Query) -> Answer:
    return _json(data.run_detail(_run(server, groups["ref"])))


def view_findings(server: Dashboard, groups: dict[str, str], query: Query) -> Answer:
    flt = data.FindingFilter.from_query(query)
    run = _run(server, groups["ref"])
    return _html(views.findings_page(run, flt, data.find(run, flt)))


def api_findings(server: Dashboard, groups: dict[str, str], query: Query) -> Answer:
    flt = data.FindingFilter.from_query(query)
    run = _run(server, groups["ref"])
    return _json(data.finding_page_json(data.find(run, flt)))


def view_report(server: Dashboard, groups: dict[str, str], query: Query) -> Answer:
    fmt, ctype = _REPORT_TYPES[groups["ext"]]
    run = _run(server, groups["ref"])
    text = FORMATS[fmt](run)
    csp = CSP
    if fmt == "html":  # the report's own policy (its hashed filter script), never framed
        found = _META_CSP.search(text)
        if found:
            csp = found.group(1) + "; frame-ancestors 'none'"
    name = f"secpipe-{run.run_id}.{groups['ext']}"
    return Answer(200, text.encode("utf-8", "replace"), ctype, csp,
                  (("Content-Disposition", f'inline; filename="{name}"'),))


def view_css(server: Dashboard, groups: dict[str, str], query: Query) -> Answer:
    return Answer(200, views.CSS.encode("utf-8"), "text/css; charset=utf-8")


ROUTES: tuple[tuple[re.Pattern[str], Callable[[Dashboard, dict[str, str], Query], Answer]],
              ...] = tuple((re.compile(p), v) for p, v in (
    (r"/", view_runs),
    (r"/trends", view_trends),
    (rf"/runs/{_REF}", view_run),
    (rf"/runs/{_REF}/findings", view_findings),
    (rf"/runs/{_REF}/report\.(?P<ext>html|json|md|sarif)", view_report),
    (r"/static/style\.css", view_css),
    (r"/api/runs", api_runs),
    (r"/api/trends", api_trends),
    (rf"/api/runs/{_REF}", api_run),
    (rf"/api/runs/{_REF}/findings", api_findings),
))
"""Anchored patterns over the raw (still percent-encoded) path, and their views."""


def make_server(db: Path, host: str = "127.0.0.1", port: int = 0, *,
                allow_hosts: tuple[str, ...] = (), quiet: bool = False,
                log: Callable[[str], None] | None = None) -> Dashboard:
    """A dashboard over the run store ``db``, bound (not yet serving: call ``serve_forever``)."""
    return Dashboard((host, port), db, allow_hosts=allow_hosts, quiet=quiet, log=log)
