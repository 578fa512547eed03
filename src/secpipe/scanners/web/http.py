"""The web scanner's HTTP client: the only way ``scan-web`` sends a request.

Standard library ``http.client`` (no third-party HTTP stack: the scanner needs exact control of
what is sent and how much is read, and nothing that follows redirects or retries on its own).
Every request is checked against the scope (the configured origins) before a socket is opened,
counted against the request budget and the scan's time budget, read with a per-request deadline
and a body cap (a response that sends more is cut and marked ``truncated``), and never follows a
redirect. Connections are kept alive per thread and origin. Thread-safe.
"""

from __future__ import annotations

import contextlib
import http.client
import ssl
import threading
import time
import zlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from secpipe.scanners.web.model import (
    BudgetExhausted,
    Cancelled,
    Headers,
    OutOfScope,
    Request,
    Response,
)

USER_AGENT = "secpipe-dast/1 (+https://github.com/secpipe)"
_CHUNK = 64 * 1024


def origin_of(url: str) -> str:
    """``scheme://host:port`` of ``url`` (default ports made explicit, host lower case)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if scheme == "https" else 80
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


@dataclass
class ClientSettings:
    """Bounds and identity of one scan's client."""

    origins: tuple[str, ...]
    """Origins in scope (``origin_of`` form); anything else raises :class:`OutOfScope`."""
    max_requests: int = 15_000
    max_seconds: float = 600.0
    timeout: float = 10.0
    """Seconds per request (connect, and the whole response read)."""
    max_body_bytes: int = 2 << 20
    headers: Headers = ()
    """Sent with every request unless the request sets the same header (auth, cookies)."""
    user_agent: str = USER_AGENT
    verify_tls: bool = True
    cancel: threading.Event = field(default_factory=threading.Event)


class Client:
    """Sends requests within scope and budgets (see the module docstring)."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self._origins = frozenset(origin_of(o) for o in settings.origins)
        self._lock = threading.Lock()
        self._sent = 0
        self._started = time.monotonic()
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self.exhausted = ""
        """Why the budget ran out ('' while it has not)."""

    # --- bounds ------------------------------------------------------------------------------
    @property
    def sent(self) -> int:
        return self._sent

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def in_scope(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return False
        return origin_of(url) in self._origins

    def remaining_seconds(self) -> float:
        return self.settings.max_seconds - self.elapsed

    def _admit(self, url: str) -> None:
        if self.settings.cancel.is_set():
            raise Cancelled("the scan was cancelled")
        if not self.in_scope(url):
            raise OutOfScope(f"{origin_of(url)} is not in scope")
        with self._lock:
            if self._sent >= self.settings.max_requests:
                self.exhausted = f"request budget of {self.settings.max_requests} spent"
                raise BudgetExhausted(self.exhausted)
            if self.elapsed >= self.settings.max_seconds:
                self.exhausted = f"time budget of {self.settings.max_seconds:g} s spent"
                raise BudgetExhausted(self.exhausted)
            self._sent += 1

    # --- sending -----------------------------------------------------------------------------
    def get(self, url: str, headers: Headers = ()) -> Response:
        return self.send(Request("GET", url, headers))

    def send(self, request: Request, *, timeout: float | None = None) -> Response:
        """Send ``request`` and read the response within the bounds (never raises on network
        errors: a failed request is a :class:`Response` with status 0 and ``error``)."""
        self._admit(request.url)
        limit = min(timeout or self.settings.timeout, max(0.5, self.remaining_seconds()))
        headers = self._headers(request)
        parts = urlsplit(request.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        started = time.monotonic()
        for attempt in (0, 1):
            conn, reused = self._connection(request.url, limit)
            try:
                conn.putrequest(request.method, target, skip_host=True,
                                skip_accept_encoding=True)
                for key, value in headers:
                    conn.putheader(key, value)
                conn.endheaders(request.body or None)
                raw = conn.getresponse()
                return self._read(raw, conn, request, started, limit)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop(request.url)
                if reused and attempt == 0:  # a kept-alive socket the server had closed
                    started = time.monotonic()
                    continue
                return self._failed(request, started, _reason(exc))
            except TimeoutError:
                self._drop(request.url)
                return self._failed(request, started, "timeout")
            except (OSError, http.client.HTTPException, ValueError) as exc:
                self._drop(request.url)
                return self._failed(request, started, _reason(exc))
        return self._failed(request, started, "connection reset")  # pragma: no cover

    def _headers(self, request: Request) -> Headers:
        own = {k.lower() for k, _ in request.headers}
        parts = urlsplit(request.url)
        out: list[tuple[str, str]] = [("Host", parts.netloc)]
        defaults = [("User-Agent", self.settings.user_agent), ("Accept", "*/*"),
                    ("Accept-Encoding", "identity"), *self.settings.headers]
        out += [(k, v) for k, v in defaults if k.lower() not in own and k.lower() != "host"]
        out += [(k, v) for k, v in request.headers if k.lower() != "host"]
        if request.body and "content-length" not in own:
            out.append(("Content-Length", str(len(request.body))))
        elif request.method.upper() in ("POST", "PUT", "PATCH") and "content-length" not in own:
            out.append(("Content-Length", "0"))
        return tuple(out)

    def _read(self, raw: http.client.HTTPResponse, conn: http.client.HTTPConnection,
              request: Request, started: float, limit: float) -> Response:
        cap = self.settings.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        truncated = False
        error = ""
        if request.method.upper() != "HEAD":
            try:
                while True:
                    if time.monotonic() - started > limit:
                        error, truncated = "timeout", True
                        break
                    chunk = raw.read1(_CHUNK)  # what has arrived: a dripping body meets
                    # the deadline
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > cap:
                        truncated = True
                        break
            except TimeoutError:
                error, truncated = "timeout", True
            except (OSError, http.client.HTTPException) as exc:
                error, truncated = _reason(exc), True
        body = b"".join(chunks)[:cap]
        headers = tuple((k, v) for k, v in raw.getheaders())
        raw.close()  # read1 leaves a fully read response open; the connection stays usable
        if truncated or raw.will_close or error:
            self._drop(request.url)
        body = _decode(body, raw.getheader("content-encoding") or "", cap)
        return Response(status=raw.status, reason=raw.reason or "", headers=headers, body=body,
                        elapsed=time.monotonic() - started, truncated=truncated, error=error,
                        url=request.url)

    @staticmethod
    def _failed(request: Request, started: float, error: str) -> Response:
        return Response(status=0, error=error, elapsed=time.monotonic() - started,
                        url=request.url)

    # --- connections -------------------------------------------------------------------------
    def _pool(self) -> dict[str, http.client.HTTPConnection]:
        pool = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
        return pool

    def _connection(self, url: str, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        key = origin_of(url)
        pool = self._pool()
        conn = pool.get(key)
        if conn is not None and conn.sock is not None:
            conn.sock.settimeout(timeout)
            return conn, True
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
        if parts.scheme.lower() == "https":
            context = ssl.create_default_context()
            if not self.settings.verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        pool[key] = conn
        with self._lock:
            self._all.append(conn)
        return conn, False

    def _drop(self, url: str) -> None:
        conn = self._pool().pop(origin_of(url), None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Close every connection this client opened (any thread's)."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.close()


def _decode(body: bytes, encoding: str, cap: int) -> bytes:
    """``body`` decoded from gzip/deflate (bounded to ``cap`` bytes); as is otherwise or when it
    does not decode (the raw bytes are still evidence)."""
    encoding = encoding.strip().lower()
    if encoding not in ("gzip", "deflate", "x-gzip"):
        return body
    wbits = 16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS
    try:
        return zlib.decompressobj(wbits).decompress(body, cap)
    except zlib.error:
        return body


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError)):
        return "connection reset"
    text = str(exc) or type(exc).__name__
    return text[:200]
