"""The web scanner's HTTP client: the only way ``scan-web`` sends a request.

Standard library ``http.client`` (no third-party HTTP stack: the scanner needs exact control of
what is sent and how much is read, and nothing that follows redirects or retries on its own).
Every request is checked against the scope (the configured origins) before a socket is opened,
counted against the request budget and the scan's time budget, read with a per-request deadline
and a body cap (a response that sends more is cut and marked ``truncated``), and never follows a
redirect. Connections are kept alive per thread and origin. Thread-safe.

Time bounds: every request has a deadline (``timeout``, at most what is left of ``max_seconds``).
A watchdog thread (one per client, started on demand, gone when idle) shuts the socket down when
the deadline passes or the scan is cancelled, so a server that drips its status line or headers a
byte at a time, or a blocked read, cannot hold a request (or the scan) past its bounds. A request
cut before its headers arrived is a status 0 response with error ``timeout``; one cut while its
body was read keeps its status and headers and is ``truncated`` with error ``timeout``; one cut by
a cancel raises :class:`Cancelled`. The connection is dropped in every case.

DNS pinning: each origin's host name is resolved once, on first use, and every address is passed
to ``ClientSettings.address_allowed`` (the scope check); an origin with an address outside it is
refused (:class:`OutOfScope`). The addresses are then pinned for the client's lifetime: every
connection goes to them (the original host name is still sent as ``Host`` and used for TLS SNI
and certificate checks), so a name that re-resolves elsewhere later (DNS rebinding) is never
followed.

Userinfo: ``http://user:pw@host/`` is not a different origin; the client strips the userinfo and
never sends it (not in ``Host``, not as credentials: configure authentication instead).
``Response.url`` is the URL without it, so it does not reach evidence either.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

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
_TICK = 0.05
"""Seconds between the watchdog's looks at deadlines and the cancel flag."""
_IDLE = 2.0
"""Seconds the watchdog thread waits with no request in flight before it ends."""


def strip_userinfo(url: str) -> str:
    """``url`` without ``user:password@`` (unchanged when it has none)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


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
    """Set to cancel the scan: no new request is sent and requests in flight are cut."""
    address_allowed: Callable[[str, str], bool] | None = None
    """Scope check of resolved addresses: called as ``(host, address)`` for every address an
    origin's host resolves to (once, on first use); any False refuses the origin. None: any."""


class _Flight:
    """One request in flight, for the watchdog."""

    __slots__ = ("conn", "deadline", "fired")

    def __init__(self, conn: http.client.HTTPConnection, deadline: float) -> None:
        self.conn = conn
        self.deadline = deadline
        self.fired = ""
        """'timeout' or 'cancelled' once the watchdog cut the socket."""


class _PinnedHTTP(http.client.HTTPConnection):
    """A connection to ``host`` that connects to pinned addresses instead of resolving it."""

    def __init__(self, host: str, port: int | None, addresses: tuple[str, ...],
                 timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._create_connection = _pinned_opener(addresses)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """:class:`_PinnedHTTP` with TLS (SNI and certificate checks use ``host``)."""

    def __init__(self, host: str, port: int | None, addresses: tuple[str, ...], timeout: float,
                 context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._create_connection = _pinned_opener(addresses)


def _pinned_opener(addresses: tuple[str, ...]) -> Callable[..., socket.socket]:
    def open_pinned(address: tuple[str, int], timeout: float | None = None,
                    source_address: tuple[str, int] | None = None) -> socket.socket:
        error: OSError = OSError("no address to connect to")
        for ip in addresses:
            try:
                return socket.create_connection((ip, address[1]), timeout, source_address)
            except OSError as exc:
                error = exc
        raise error

    return open_pinned


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
        self._pins: dict[str, tuple[str, ...]] = {}
        self._pin_lock = threading.Lock()
        self._flights: set[_Flight] = set()
        self._watchdog: threading.Thread | None = None
        self._closed = False
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
        parts = urlsplit(strip_userinfo(url))
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return False
        return origin_of(url) in self._origins

    def remaining_seconds(self) -> float:
        return self.settings.max_seconds - self.elapsed

    def _admit(self, url: str) -> tuple[str, ...] | str:
        """Scope, pinned addresses (or why there are none) and budgets; counts the request."""
        if self.settings.cancel.is_set():
            raise Cancelled("the scan was cancelled")
        if not self.in_scope(url):
            raise OutOfScope(f"{origin_of(url)} is not in scope")
        addresses = self._pinned(url)
        with self._lock:
            if self._sent >= self.settings.max_requests:
                self.exhausted = f"request budget of {self.settings.max_requests} spent"
                raise BudgetExhausted(self.exhausted)
            if self.elapsed >= self.settings.max_seconds:
                self.exhausted = f"time budget of {self.settings.max_seconds:g} s spent"
                raise BudgetExhausted(self.exhausted)
            self._sent += 1
        return addresses

    # --- sending -----------------------------------------------------------------------------
    def get(self, url: str, headers: Headers = ()) -> Response:
        return self.send(Request("GET", url, headers))

    def send(self, request: Request, *, timeout: float | None = None) -> Response:
        """Send ``request`` and read the response within the bounds (never raises on network
        errors: a failed request is a :class:`Response` with status 0 and ``error``). Raises
        :class:`OutOfScope`, :class:`BudgetExhausted`, and :class:`Cancelled` (also when a
        cancel cut the request in flight)."""
        url = strip_userinfo(request.url)
        if url != request.url:
            request = Request(request.method, url, request.headers, request.body)
        addresses = self._admit(request.url)
        started = time.monotonic()
        if isinstance(addresses, str):
            return self._failed(request, started, addresses)
        limit = min(timeout or self.settings.timeout, max(0.5, self.remaining_seconds()))
        headers = self._headers(request)
        parts = urlsplit(request.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        for attempt in (0, 1):
            conn, reused = self._connection(request.url, addresses, limit)
            flight = self._fly(conn, started + limit)
            try:
                try:
                    conn.putrequest(request.method, target, skip_host=True,
                                    skip_accept_encoding=True)
                    for key, value in headers:
                        conn.putheader(key, value)
                    conn.endheaders(request.body or None)
                    raw = conn.getresponse()
                    if flight.fired:  # headers cut short by the watchdog: not a response
                        raise TimeoutError
                    return self._read(raw, request, started, limit, flight)
                except (http.client.RemoteDisconnected, BrokenPipeError,
                        ConnectionResetError) as exc:
                    self._drop(request.url)
                    if flight.fired:
                        raise TimeoutError from None
                    if reused and attempt == 0:  # a kept-alive socket the server had closed
                        continue
                    return self._failed(request, started, _reason(exc))
                except TimeoutError:
                    self._drop(request.url)
                    if flight.fired == "cancelled":
                        raise Cancelled("the scan was cancelled") from None
                    return self._failed(request, started, "timeout")
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    self._drop(request.url)
                    if flight.fired:
                        raise TimeoutError from None
                    return self._failed(request, started, _reason(exc))
            except TimeoutError:
                if flight.fired == "cancelled":
                    raise Cancelled("the scan was cancelled") from None
                return self._failed(request, started, "timeout")
            finally:
                self._land(flight)
        return self._failed(request, started, "connection reset")  # pragma: no cover

    def _headers(self, request: Request) -> Headers:
        own = {k.lower() for k, _ in request.headers}
        parts = urlsplit(request.url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        if parts.port is not None:
            host += f":{parts.port}"
        out: list[tuple[str, str]] = [("Host", host)]
        defaults = [("User-Agent", self.settings.user_agent), ("Accept", "*/*"),
                    ("Accept-Encoding", "identity"), *self.settings.headers]
        out += [(k, v) for k, v in defaults if k.lower() not in own and k.lower() != "host"]
        out += [(k, v) for k, v in request.headers if k.lower() != "host"]
        if request.body and "content-length" not in own:
            out.append(("Content-Length", str(len(request.body))))
        elif request.method.upper() in ("POST", "PUT", "PATCH") and "content-length" not in own:
            out.append(("Content-Length", "0"))
        return tuple(out)

    def _read(self, raw: http.client.HTTPResponse, request: Request, started: float,
              limit: float, flight: _Flight) -> Response:
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
        if flight.fired:
            if flight.fired == "cancelled":
                self._drop(request.url)
                raise Cancelled("the scan was cancelled")
            error, truncated = "timeout", True
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

    def _connection(self, url: str, addresses: tuple[str, ...],
                    timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        key = origin_of(url)
        pool = self._pool()
        kept = pool.get(key)
        if kept is not None and kept.sock is not None:
            kept.sock.settimeout(timeout)
            return kept, True
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
        if parts.scheme.lower() == "https":
            context = ssl.create_default_context()
            if not self.settings.verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            conn: http.client.HTTPConnection = _PinnedHTTPS(host, port, addresses, timeout,
                                                            context)
        else:
            conn = _PinnedHTTP(host, port, addresses, timeout)
        pool[key] = conn
        with self._lock:
            self._all.append(conn)
        return conn, False

    def _drop(self, url: str) -> None:
        conn = self._pool().pop(origin_of(url), None)
        if conn is not None:
            conn.close()

    # --- DNS pinning -------------------------------------------------------------------------
    def _pinned(self, url: str) -> tuple[str, ...] | str:
        """The addresses of ``url``'s host (resolved once per origin and checked against
        ``address_allowed``); an error text when it does not resolve (not pinned: tried again
        next time). Raises :class:`OutOfScope` for an address outside the scope."""
        key = origin_of(url)
        pinned = self._pins.get(key)
        if pinned is not None:
            return pinned
        host = urlsplit(url).hostname or ""
        with self._pin_lock:
            pinned = self._pins.get(key)
            if pinned is not None:
                return pinned
            try:
                addresses: tuple[str, ...] = (str(ipaddress.ip_address(host)),)
            except ValueError:
                try:
                    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
                except (OSError, UnicodeError) as exc:
                    return f"name resolution failed: {_reason(exc)}"
                addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
            check = self.settings.address_allowed
            for address in addresses:
                if check is not None and not check(host, address.split("%", 1)[0]):
                    raise OutOfScope(f"{key} resolves to {address}, outside the scope")
            if not addresses:
                return "name resolution failed: no address"
            self._pins[key] = addresses
            return addresses

    # --- watchdog ----------------------------------------------------------------------------
    def _fly(self, conn: http.client.HTTPConnection, deadline: float) -> _Flight:
        flight = _Flight(conn, deadline)
        with self._lock:
            self._flights.add(flight)
            if self._watchdog is None:
                self._watchdog = threading.Thread(target=self._watch, daemon=True,
                                                  name="secpipe-http-watchdog")
                self._watchdog.start()
        return flight

    def _land(self, flight: _Flight) -> None:
        with self._lock:
            self._flights.discard(flight)

    def _watch(self) -> None:
        idle_since = time.monotonic()
        cancel = self.settings.cancel
        while True:
            cancelled = cancel.wait(_TICK)
            now = time.monotonic()
            with self._lock:
                if self._flights:
                    idle_since = now
                elif now - idle_since > _IDLE or self._closed:
                    self._watchdog = None
                    return
                for flight in self._flights:
                    if flight.fired:
                        continue
                    if cancelled or now >= flight.deadline:
                        flight.fired = "cancelled" if cancelled else "timeout"
                        _cut(flight.conn)
            if cancelled:
                time.sleep(_TICK)  # the flag stays set: do not spin

    def close(self) -> None:
        """Close every connection this client opened (any thread's)."""
        with self._lock:
            self._closed = True
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.close()


def _cut(conn: http.client.HTTPConnection) -> None:
    """Shut ``conn``'s socket down (from another thread): a blocked read or write returns."""
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


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
