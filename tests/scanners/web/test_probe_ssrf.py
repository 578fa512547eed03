"""The SSRF probe and its loopback canary listener against a real Flask app: full-response,
blind (background) and host-built fetches are found; allowlist and private-address twins are
not."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator

import pytest
from apps_h7 import context, json_point, query, serve, ssrf_app

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.web.model import InputKind, InputPoint, Site
from secpipe.scanners.web.probes import Listener
from secpipe.scanners.web.probes import ssrf as ssrf_module
from secpipe.scanners.web.probes.ssrf import PROBES, CanaryListener, SsrfProbe

PROBE = SsrfProbe()


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serve(ssrf_app()) as url:
        yield url


@pytest.fixture(scope="module")
def listener() -> Iterator[CanaryListener]:
    with CanaryListener() as running:
        yield running


@pytest.fixture(autouse=True)
def _short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ssrf_module, "WAIT_SECONDS", 1.0)


def test_listener_records_tokens_and_answers_with_its_marker(listener: CanaryListener) -> None:
    protocol: Listener = listener  # the step hands it to ProbeContext as a Listener
    url = protocol.url_for("sptoken0001")
    assert url == f"http://127.0.0.1:{listener.port}/sptoken0001"
    with urllib.request.urlopen(url + "/deeper?x=1", timeout=5) as answer:  # noqa: S310
        body = answer.read().decode()
    assert listener.marker in body and "sptoken0001" in body
    assert listener.hits("sptoken0001") == 1
    assert listener.hits("sptoken0002") == 0
    hit = listener.requests_for("sptoken0001")[0]
    assert (hit.method, hit.path, hit.client) == ("GET", "/sptoken0001/deeper", "127.0.0.1")
    assert hit.user_agent.startswith("Python-urllib")
    assert listener.wait("sptoken0002", 0.2) == 0


def test_listener_host_is_what_the_target_is_told() -> None:
    with CanaryListener(listener_host="10.0.2.2") as running:
        assert running.url_for("t") == f"http://10.0.2.2:{running.port}/t"
        running.listener_host = "fd00::2"
        assert running.url_for("t") == f"http://[fd00::2]:{running.port}/t"
        port = running.port
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass  # closed: the port no longer accepts


def test_full_response_ssrf_is_found(base: str, listener: CanaryListener) -> None:
    ctx = context(base, [], listener=listener)
    point = query(base, "/fetch", "url", "https://example.org/logo.png")
    assert PROBE.applies(point, ctx.site)
    findings = PROBE.run(ctx, point)
    assert len(findings) == 1
    found = findings[0]
    assert (found.kind, found.cwe, found.param) == ("ssrf", "CWE-918", "url")
    assert found.severity is Severity.HIGH and found.confidence is Confidence.HIGH
    assert "full-response SSRF" in found.message and "Python-urllib" in found.message
    assert listener.marker in found.evidence[0].response.text


def test_blind_ssrf_in_a_json_field_is_found(base: str, listener: CanaryListener) -> None:
    ctx = context(base, [], listener=listener)
    point = json_point(base, "/hooks", "callback_url", {"callback_url": "", "event": "push"})
    assert PROBE.applies(point, ctx.site)
    findings = PROBE.run(ctx, point)
    assert len(findings) == 1
    assert "full-response" not in findings[0].message
    assert findings[0].evidence[0].response.text.strip() == '{"queued":true}'


def test_localhost_spelling_beats_a_literal_address_filter(base: str,
                                                          listener: CanaryListener) -> None:
    ctx = context(base, [], listener=listener)
    findings = PROBE.run(ctx, query(base, "/thumb", "src", "https://a.example/x.png"))
    assert len(findings) == 1 and "//localhost:" in findings[0].message
    assert findings[0].evidence[0].response.text == "thumbnail made"


def test_host_parameter_gets_a_bare_host_payload(base: str, listener: CanaryListener) -> None:
    ctx = context(base, [], listener=listener)
    findings = PROBE.run(ctx, query(base, "/status", "host", "example.com"))
    assert len(findings) == 1
    assert ctx.client.sent == 3  # the URL, the URL with localhost, then host:port/token?
    assert "://" not in findings[0].proof and findings[0].proof.startswith("listener hit")


@pytest.mark.parametrize(("path", "name"), [("/safe-fetch", "url"), ("/preview", "link")])
def test_twins_that_refuse_our_host_are_not_flagged(base: str, listener: CanaryListener,
                                                    path: str, name: str) -> None:
    ctx = context(base, [], listener=listener)
    point = query(base, path, name, "https://images.example.org/a.png")
    assert PROBE.run(ctx, point) == []
    assert ctx.client.sent == 2  # 127.0.0.1 and localhost


def test_without_a_listener_nothing_is_sent(base: str) -> None:
    ctx = context(base, [])
    assert PROBE.run(ctx, query(base, "/fetch", "url", "https://example.org/")) == []
    assert ctx.client.sent == 0


def test_applies_to_url_like_points_only(base: str) -> None:
    site = Site(base, ())
    assert PROBE.applies(query(base, "/x", "webhookUrl", ""), site)
    assert PROBE.applies(query(base, "/x", "image", ""), site)
    assert PROBE.applies(query(base, "/x", "q", "https://a.example/"), site)
    assert not PROBE.applies(query(base, "/x", "q", "shoes"), site)
    assert not PROBE.applies(json_point(base, "/x", "user.name", {"user": {"name": "a"}}), site)
    assert PROBE.applies(json_point(base, "/x", "user.avatar", {"user": {"avatar": "a"}}), site)
    header = InputPoint(InputKind.HEADER, "GET", base + "/", "X-Api", headers=(("X-Api", "1"),))
    assert not PROBE.applies(header, site)
    site.unauthorised.add("/x")
    assert not PROBE.applies(query(base, "/x", "url", ""), site)


def test_module_defines_its_probe() -> None:
    assert [p.kind for p in PROBES] == ["ssrf"]
