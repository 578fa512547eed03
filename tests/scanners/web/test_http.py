"""The web scanner's HTTP client against real local servers: scope, budgets, bounded bodies,
timeouts (also of dripped headers and on cancel), decompression bounds, network errors as status
0, DNS pinning and userinfo.

The rebinding tests replace the name resolver (``socket.getaddrinfo``) for one made-up name: a
DNS server that changes its answer cannot be run here; the servers and sockets are real."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from apps_h4 import (
    RawServer,
    Served,
    fifty_megabytes,
    free_port,
    gzip_bomb,
    hang,
    serve,
    site_app,
    slow_drip,
)
from apps_h5 import serve as serve_wsgi

from secpipe.scanners.web.http import Client, ClientSettings, origin_of
from secpipe.scanners.web.model import BudgetExhausted, Cancelled, OutOfScope, Request, Response


@pytest.fixture(scope="module")
def site() -> Iterator[Served]:
    with serve(site_app("http://127.0.0.1:9")) as served:
        yield served


def client_for(url: str, **kw: object) -> Client:
    return Client(ClientSettings(origins=(origin_of(url),), **kw))  # type: ignore[arg-type]


def test_origin_of_makes_default_ports_explicit() -> None:
    assert origin_of("HTTP://Example.COM/x") == "http://example.com:80"
    assert origin_of("https://a.b:8443/") == "https://a.b:8443"
    assert origin_of("http://[::1]:8080/") == "http://[::1]:8080"


def test_out_of_scope_is_refused_before_any_connection(site: Served) -> None:
    client = client_for(site.url)
    other = RawServer(hang)
    with other:
        with pytest.raises(OutOfScope):
            client.get(other.url + "/")
        time.sleep(0.3)
        assert other.connections == 0
    assert client.sent == 0
    assert not client.in_scope("ftp://127.0.0.1/") and not client.in_scope("/relative")


def test_request_budget_is_enforced_and_named(site: Served) -> None:
    client = client_for(site.url, max_requests=3)
    for _ in range(3):
        assert client.get(site.url + "/about").status == 200
    with pytest.raises(BudgetExhausted):
        client.get(site.url + "/about")
    assert "request budget of 3" in client.exhausted
    assert client.sent == 3


def test_time_budget(site: Served) -> None:
    client = client_for(site.url, max_seconds=0.2)
    time.sleep(0.3)
    with pytest.raises(BudgetExhausted):
        client.get(site.url + "/")
    assert "time budget" in client.exhausted


def test_cancel_stops_sending(site: Served) -> None:
    client = client_for(site.url)
    client.settings.cancel.set()
    with pytest.raises(Cancelled):
        client.get(site.url + "/")


def test_no_redirect_is_followed(site: Served) -> None:
    response = client_for(site.url).get(site.url + "/moved")
    assert response.status == 301 and response.header("location") == "/about/team"


def test_body_cap_truncates_a_50_mb_page() -> None:
    with RawServer(fifty_megabytes) as big:
        client = client_for(big.url, max_body_bytes=1 << 20)
        started = time.monotonic()
        response = client.get(big.url + "/")
        assert response.status == 200 and response.truncated
        assert len(response.body) == 1 << 20
        assert time.monotonic() - started < 10


def test_gzip_bomb_is_decoded_within_the_cap() -> None:
    with RawServer(gzip_bomb) as bomb:
        response = client_for(bomb.url, max_body_bytes=1 << 20).get(bomb.url + "/")
        assert response.status == 200
        assert len(response.body) <= 1 << 20


def test_a_hanging_server_times_out_as_status_0() -> None:
    with RawServer(hang) as server:
        client = client_for(server.url, timeout=0.5)
        started = time.monotonic()
        response = client.get(server.url + "/")
        assert response.status == 0 and response.error == "timeout"
        assert time.monotonic() - started < 3


def test_a_dripping_body_is_cut_at_the_deadline() -> None:
    """A body sent a byte at a time never lets a socket read time out: the per-request
    deadline must still end the read (the test's own thread bounds the wait)."""
    got: list[Response] = []
    with RawServer(slow_drip) as server:
        client = client_for(server.url, timeout=0.8)
        thread = threading.Thread(target=lambda: got.append(client.get(server.url + "/")),
                                  daemon=True)
        thread.start()
        thread.join(5)
        finished = not thread.is_alive()
    assert finished, "the client read a dripping body past its timeout"
    assert got[0].truncated and got[0].error == "timeout"


def test_connection_refused_is_status_0() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    response = client_for(url).get(url + "/")
    assert response.status == 0 and response.error == "connection refused"


def test_default_headers_and_request_headers(site: Served) -> None:
    client = client_for(site.url, headers=(("Authorization", "Bearer t0k3n"),))
    client.send(Request("GET", site.url + "/about", (("X-Probe", "1"),)))
    sent = site.headers[-1]
    assert sent["Authorization"] == "Bearer t0k3n" and sent["X-Probe"] == "1"
    assert sent["User-Agent"].startswith("secpipe-dast")
    client.send(Request("GET", site.url + "/about", (("Authorization", "other"),)))
    assert site.headers[-1]["Authorization"] == "other"


def test_post_body_and_keep_alive(site: Served) -> None:
    client = client_for(site.url)
    for _ in range(3):
        response = client.send(Request("POST", site.url + "/contact",
                                       (("Content-Type", "application/x-www-form-urlencoded"),),
                                       b"name=a"))
        assert response.status == 200 and b"thanks" in response.body
    client.close()


def drip_headers(peer_gone: threading.Event) -> Any:
    """A status line, then one header line every 0.25 s for ever; ``peer_gone`` is set when
    the client has dropped the connection (a write fails)."""

    def handler(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
        try:
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            n = 0
            while not stop.wait(0.25):
                n += 1
                conn.sendall(f"X-Drip-{n}: {'a' * 1000}\r\n".encode())
        except OSError:
            peer_gone.set()

    return handler


@pytest.mark.parametrize(("timeout", "max_seconds"), [(1.0, 600.0), (10.0, 1.5)])
def test_dripped_headers_are_cut_at_the_deadline(timeout: float, max_seconds: float) -> None:
    """Each header line resets a socket timeout; the request deadline (timeout, or what is
    left of max_seconds) must still end it, as status 0 "timeout", and drop the connection."""
    gone = threading.Event()
    with RawServer(drip_headers(gone)) as server:
        client = client_for(server.url, timeout=timeout, max_seconds=max_seconds)
        started = time.monotonic()
        response = client.get(server.url + "/")
        took = time.monotonic() - started
        assert response.status == 0 and response.error == "timeout"
        assert took < min(timeout, max_seconds) + 0.6, took
        assert gone.wait(3), "the cut connection was kept open"
        assert client.sent == 1


def test_a_dripped_body_keeps_status_and_is_cut_near_the_deadline() -> None:
    with RawServer(slow_drip) as server:
        client = client_for(server.url, timeout=1.0)
        started = time.monotonic()
        response = client.get(server.url + "/")
        assert time.monotonic() - started < 1.6
        assert response.status == 200 and response.truncated and response.error == "timeout"


def test_cancel_interrupts_a_blocked_read() -> None:
    with RawServer(hang) as server:
        client = client_for(server.url, timeout=30.0)
        threading.Timer(0.3, client.settings.cancel.set).start()
        started = time.monotonic()
        with pytest.raises(Cancelled):
            client.get(server.url + "/")
        assert time.monotonic() - started < 1.0


def keep_alive(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    """Answer every request on the connection (HTTP/1.1 keep-alive) until the client closes."""
    while request and not stop.is_set():
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        request = conn.recv(65536)


def test_keep_alive_outlives_the_request_deadline() -> None:
    """A pooled connection whose earlier request's deadline has passed is not cut: three
    requests 0.4 s apart with a 0.3 s timeout use one connection."""
    with RawServer(keep_alive) as server:
        client = client_for(server.url, timeout=0.3)
        for _ in range(3):
            response = client.get(server.url + "/")
            assert response.status == 200 and response.body == b"ok"
            time.sleep(0.4)
        assert server.connections == 1
        client.close()


class Rebinding:
    """``socket.getaddrinfo`` for ``name`` answers ``first`` once, then ``later``."""

    def __init__(self, name: str, first: str, later: str) -> None:
        self.name, self.first, self.later = name, first, later
        self.asked = 0
        self.real = socket.getaddrinfo

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != self.name:
            return self.real(host, port, *args, **kwargs)
        self.asked += 1
        address = self.first if self.asked == 1 else self.later
        return self.real(address, port, *args, **kwargs)


def answer(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    """200 with the Host header received, then close (every request is a new connection)."""
    host = next((line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                 if line.lower().startswith(b"host:")), b"")
    conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: "
                 + str(len(host)).encode() + b"\r\n\r\n" + host)


def test_a_name_is_resolved_once_and_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: the name later resolves to another (listening) address; every
    connection still goes to the address checked on first use."""
    with RawServer(answer) as pinned, socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind(("127.0.0.2", pinned.port))
        other.listen(8)
        resolver = Rebinding("rebind.test", "127.0.0.1", "127.0.0.2")
        monkeypatch.setattr(socket, "getaddrinfo", resolver)
        url = f"http://rebind.test:{pinned.port}"
        checked: list[tuple[str, str]] = []

        def allowed(host: str, address: str) -> bool:
            checked.append((host, address))
            return True

        client = client_for(url, address_allowed=allowed)
        bodies = [client.get(url + "/").body for _ in range(3)]
        assert bodies == [f"rebind.test:{pinned.port}".encode()] * 3
        assert pinned.connections == 3 and resolver.asked == 1
        assert checked == [("rebind.test", "127.0.0.1")]
        other.setblocking(False)
        with pytest.raises(BlockingIOError):
            other.accept()


def test_an_address_outside_the_scope_is_refused_before_connecting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with RawServer(answer) as server:
        monkeypatch.setattr(socket, "getaddrinfo",
                            Rebinding("evil.test", "127.0.0.1", "127.0.0.1"))
        url = f"http://evil.test:{server.port}"
        client = client_for(url, address_allowed=lambda h, a: a != "127.0.0.1")
        with pytest.raises(OutOfScope, match=r"127\.0\.0\.1"):
            client.get(url + "/")
        with pytest.raises(OutOfScope):
            client.get(url + "/")
        time.sleep(0.3)
        assert server.connections == 0 and client.sent == 0


def test_an_unresolvable_name_is_status_0() -> None:
    url = "http://no-such-host.invalid:8080"
    response = client_for(url).get(url + "/")
    assert response.status == 0 and response.error.startswith("name resolution failed")


def test_https_connects_to_the_pinned_address_with_the_original_host(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def app(environ: dict[str, Any], start: Any) -> list[bytes]:
        start("200 OK", [("Content-Type", "text/plain")])
        return [environ.get("HTTP_HOST", "").encode()]

    with serve_wsgi(app, tls=True) as base:
        port = base.rsplit(":", 1)[1]
        monkeypatch.setattr(socket, "getaddrinfo",
                            Rebinding("tls.test", "127.0.0.1", "127.0.0.2"))
        url = f"https://tls.test:{port}"
        client = client_for(url, verify_tls=False)
        for _ in range(2):
            response = client.get(url + "/")
            assert response.status == 200 and response.body == f"tls.test:{port}".encode()
        client.close()


def test_userinfo_is_stripped_and_never_sent(site: Served) -> None:
    client = client_for(site.url)
    port = site.url.rsplit(":", 1)[1]
    url = f"http://evil:pw@127.0.0.1:{port}/about"
    assert client.in_scope(url)
    response = client.get(url)
    assert response.status == 200 and response.url == f"http://127.0.0.1:{port}/about"
    sent = site.headers[-1]
    assert sent["Host"] == f"127.0.0.1:{port}" and "Authorization" not in sent
    assert "evil" not in repr(sent)
