"""The web scanner's HTTP client against real local servers: scope, budgets, bounded bodies,
timeouts, decompression bounds, network errors as status 0."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

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
