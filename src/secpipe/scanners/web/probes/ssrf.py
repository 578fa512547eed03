"""Server-side request forgery probe (``ssrf``, CWE-918) and its loopback canary listener.

:class:`CanaryListener` is a small threaded HTTP server on the scanner's loopback
(``127.0.0.1``, a free port) that records every request it receives by the first path segment
(``/<token>``) and answers with a body carrying a marker unique to the listener. The step
creates it when SSRF probes run, starts it (``start()`` or ``with``), puts it in
``ProbeContext.listener`` and closes it at the end::

    with CanaryListener() as listener:          # binds 127.0.0.1:<free port>
        listener.listener_host = "10.0.2.2"     # optional: the address the TARGET must use
        ctx = ProbeContext(client, site, listener=listener)

``listener_host`` is the host written into the canary URLs (default: the bound address). A
target on the same host uses ``127.0.0.1``; a target in a podman container reaches the host's
loopback through slirp4netns at ``10.0.2.2`` only when the container runs with
``--network slirp4netns:allow_host_loopback=true``.

The probe gives every URL-ish parameter (``url``, ``uri``, ``link``, ``src``, ``callback``,
``webhook``, ``feed``, ``image``, ``fetch``, ``target`` … or one whose sample value is a URL; JSON
fields too) the canary URL ``http://<listener_host>:<port>/<token>``, the same with
``localhost`` when the listener host is ``127.0.0.1`` (filters that block the literal address
only), and for host-like parameters ``<listener_host>:<port>/<token>?``; each value has its own
token. A hit right after an answer stops the probe; otherwise it waits up to
:data:`WAIT_SECONDS` for any of them (fetches queued after the answer). That request, made by
the target, is the proof (HIGH). A response that contains the listener's body marker shows the
target also returns what it fetched (full-response SSRF; without a recorded hit it is reported
with MEDIUM confidence).

Requests: at most 3 per point (1 URL, +1 ``localhost`` spelling, +1 bare host for host-like
parameters), none when no listener is configured; a point without a hit costs WAIT_SECONDS.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.web.model import Exchange, InputKind, InputPoint, Site, WebFinding
from secpipe.scanners.web.probes import Listener, ProbeContext

KIND = "ssrf"
CWE = "CWE-918"
#: seconds to wait for the target's request to reach the listener after its response
WAIT_SECONDS = 2.0
#: requests the listener remembers (the oldest are forgotten beyond this)
MAX_RECORDS = 10_000
_MAX_BODY = 64 * 1024
_POLL = 0.05

_NAMES = frozenset({
    "url", "uri", "link", "href", "src", "source", "callback", "callbackurl", "webhook",
    "webhookurl", "hook", "feed", "feedurl", "rss", "image", "imageurl", "img", "imgurl",
    "avatar", "avatarurl", "icon", "logo", "picture", "photo", "thumbnail", "fetch", "target",
    "endpoint", "proxy", "remote", "remoteurl", "load", "import", "importurl", "download",
    "downloadurl", "resource", "document", "doc", "site", "website", "homepage", "api",
    "apiurl", "server", "serverurl", "host", "hostname", "domain", "address", "addr",
    "notify", "notifyurl", "ping", "pingback", "preview", "previewurl", "embed", "oembed",
    "media", "mediaurl", "file", "fileurl", "location", "dest", "destination", "redirect",
    "next", "return", "returnurl", "open", "page", "pageurl", "reference", "ref", "service",
    "path"})
_NAME_PARTS = ("url", "uri", "link", "webhook", "callback", "feed", "image", "fetch", "host")
_HOST_NAMES = frozenset({"host", "hostname", "domain", "server", "address", "addr", "site"})
_POINT_KINDS = (InputKind.QUERY, InputKind.FORM, InputKind.JSON, InputKind.HEADER,
                InputKind.PATH)


@dataclass(frozen=True)
class Hit:
    """One request the listener received."""

    token: str
    method: str
    path: str
    client: str
    user_agent: str
    at: float


class CanaryListener:
    """The loopback canary HTTP server (implements ``probes.Listener``); see the module
    docstring. ``bind``/``port`` are where it listens (``port=0``: a free one);
    ``listener_host`` the host the target is told to fetch (default ``bind``)."""

    def __init__(self, bind: str = "127.0.0.1", port: int = 0,
                 listener_host: str | None = None) -> None:
        self.bind = bind
        self.requested_port = port
        self.listener_host = listener_host
        """The host (or IP) the target must use to reach this listener; None: ``bind``."""
        self.marker = "spssrf" + secrets.token_hex(8)
        """Unique to this listener: every answer's body carries it."""
        self._hits: list[Hit] = []
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> CanaryListener:
        """Bind and serve in a daemon thread (idempotent)."""
        if self._server is not None:
            return self
        server = ThreadingHTTPServer((self.bind, self.requested_port), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="secpipe-ssrf-listener", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> CanaryListener:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the canary listener is not started")
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """The host written into canary URLs."""
        return self.listener_host or self.bind

    # --- Listener protocol -------------------------------------------------------------------
    def url_for(self, token: str) -> str:
        """``http://<listener_host>:<port>/<token>``."""
        host = self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}/{token}"

    def hits(self, token: str) -> int:
        """How many requests for ``/<token>`` arrived so far."""
        with self._cond:
            return sum(1 for hit in self._hits if hit.token == token)

    def requests_for(self, token: str) -> list[Hit]:
        with self._cond:
            return [hit for hit in self._hits if hit.token == token]

    def wait(self, token: str, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for a request for ``token``; the count then."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                count = sum(1 for hit in self._hits if hit.token == token)
                left = deadline - time.monotonic()
                if count or left <= 0:
                    return count
                self._cond.wait(left)

    def _record(self, hit: Hit) -> None:
        with self._cond:
            self._hits.append(hit)
            if len(self._hits) > MAX_RECORDS:
                del self._hits[: len(self._hits) - MAX_RECORDS]
            self._cond.notify_all()


def _handler_for(listener: CanaryListener) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 5
        server_version = "secpipe-canary"
        sys_version = ""

        def _answer(self) -> None:
            path = self.path.split("?", 1)[0].split("#", 1)[0]
            if "://" in path:  # absolute-form (a proxy-style request)
                path = "/" + path.split("://", 1)[1].partition("/")[2]
            token = path.lstrip("/").split("/", 1)[0][:100]
            length = self.headers.get("Content-Length") or "0"
            if length.isdigit() and 0 < int(length) <= _MAX_BODY:
                self.rfile.read(int(length))
            listener._record(Hit(token=token, method=self.command[:16], path=path[:300],
                                 client=str(self.client_address[0]),
                                 user_agent=(self.headers.get("User-Agent") or "")[:200],
                                 at=time.time()))
            # plain text no deserializer takes for an object (a target may unpickle it)
            body = f"{listener.marker} {token}\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.close_connection = True

        do_GET = do_POST = do_PUT = do_HEAD = do_OPTIONS = do_PATCH = do_DELETE = _answer

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler


def looks_urlish(point: InputPoint) -> bool:
    """Whether the point's name or sample value says the target may fetch it."""
    name = re.sub(r"[^a-z0-9]", "", point.name.rsplit(".", 1)[-1].lower())
    value = point.original().strip().lower()
    if value.startswith(("http://", "https://", "//")) or "://" in value[:20]:
        return True
    if point.kind in (InputKind.HEADER, InputKind.PATH):
        return False
    return name in _NAMES or any(part in name for part in _NAME_PARTS)


class SsrfProbe:
    """SSRF through the canary listener: see the module docstring."""

    kind = KIND

    def applies(self, point: InputPoint, site: Site) -> bool:
        return point.kind in _POINT_KINDS and point.route not in site.unauthorised \
            and looks_urlish(point)

    def run(self, ctx: ProbeContext, point: InputPoint) -> list[WebFinding]:
        listener = ctx.listener
        if listener is None:
            return []
        marker = str(getattr(listener, "marker", ""))
        sent: list[tuple[str, str, Exchange]] = []
        for token, value in self._values(ctx, listener, point):
            request = point.request(value)
            exchange = Exchange(request, ctx.client.send(request))
            sent.append((token, value, exchange))
            if listener.hits(token) or (marker and marker in exchange.response.text):
                return [self._finding(listener, point, token, value, exchange, marker)]
        deadline = time.monotonic() + WAIT_SECONDS  # a fetch made after the answer (queued)
        while sent and not ctx.cancel.is_set():
            for token, value, exchange in sent:
                if listener.hits(token):
                    return [self._finding(listener, point, token, value, exchange, marker)]
            if time.monotonic() >= deadline:
                break
            time.sleep(_POLL)
        return []

    @staticmethod
    def _values(ctx: ProbeContext, listener: Listener, point: InputPoint) -> list[tuple[str, str]]:
        """(token, value) pairs: the canary URL; for a listener on 127.0.0.1 the same with
        ``localhost`` (a filter that blocks the literal address only); for a host-like
        parameter without a URL sample, ``host:port/token?`` (the app adds scheme and path)."""
        token = ctx.canary()
        url = listener.url_for(token)
        values = [(token, url)]
        if "//127.0.0.1:" in url:
            other = ctx.canary()
            values.append((other, listener.url_for(other).replace("//127.0.0.1:",
                                                                   "//localhost:", 1)))
        name = re.sub(r"[^a-z0-9]", "", point.name.rsplit(".", 1)[-1].lower())
        if name in _HOST_NAMES and "://" not in point.original() \
                and point.kind in (InputKind.QUERY, InputKind.FORM, InputKind.JSON):
            bare = ctx.canary()
            values.append((bare, listener.url_for(bare).split("://", 1)[1] + "?"))
        return values

    @staticmethod
    def _finding(listener: Listener, point: InputPoint, token: str, value: str,
                 exchange: Exchange, marker: str) -> WebFinding:
        count = listener.hits(token)
        echoed = bool(marker) and marker in exchange.response.text
        how = ""
        getter = getattr(listener, "requests_for", None)
        if count and callable(getter):
            hits: list[Hit] = list(getter(token))
            if hits:
                first = hits[0]
                how = (f" It received {first.method} {first.path} from {first.client}"
                       + (f" (User-Agent: {first.user_agent})" if first.user_agent else "") + ".")
        full = (" The response contains what the listener answered: the target returns the "
                "content it fetched (full-response SSRF).") if echoed else ""
        request = exchange.request
        if count:
            message = (f"The target fetched the URL given in {point.label}: our canary listener "
                       f"received the request for {value!r}.{how}{full}")
        else:
            message = (f"The answer to {value!r} in {point.label} contains our canary "
                       "listener's answer: the target fetched the URL and returned its content "
                       "(the listener did not record it: a cache or proxy in between?).")
        return WebFinding(
            kind=KIND, title="Server-side request forgery", severity=Severity.HIGH,
            url=request.url, method=request.method, param=point.label,
            message=message,
            evidence=(exchange,),
            proof=f"listener hit for /{token}" if count else f"listener marker {marker}",
            confidence=Confidence.HIGH if count else Confidence.MEDIUM, cwe=CWE,
            remediation=("Fetch only URLs whose resolved address is on an allowlist; block "
                         "loopback, private and link-local addresses after DNS resolution and "
                         "on every redirect."),
        )


PROBES = [SsrfProbe()]
