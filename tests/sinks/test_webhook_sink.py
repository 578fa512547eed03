"""The webhook sink against a real HTTP receiver on 127.0.0.1 (started in the test process)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sink_helpers import context, receiver, run_events

from secpipe.core.errors import ConfigError
from secpipe.keys.refs import SecretResolver
from secpipe.sinks import SinkBus
from secpipe.sinks.webhook import WebhookSettings, WebhookSink

pytestmark = pytest.mark.server

TOKEN = "-".join(["tok", "9f8e7d6c5b4a"])  # built at run time, never a literal


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SecretResolver:
    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    return SecretResolver(tmp_path)


def _sink(url: str, secrets: SecretResolver, **options: Any) -> WebhookSink:
    settings = WebhookSettings(url=url, headers={"Authorization": "Bearer ${env:HOOK_TOKEN}"},
                               **options)
    return WebhookSink(settings, context("hook", secrets=secrets))


def test_posts_each_event_as_json_with_resolved_headers(secrets: SecretResolver) -> None:
    with receiver() as recv:
        bus = SinkBus([_sink(recv.url, secrets)])
        events = run_events()
        for event in events:
            bus.emit(event)
        bus.close(10)
    assert bus.failures == []
    bodies = [body for _, _, body in recv.requests]
    assert [b["type"] for b in bodies] == [e.type for e in events
                                           if e.type not in ("step.progress", "step.log")]
    _, headers, finished = recv.requests[3]
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Content-Type"] == "application/json"
    assert finished["type"] == "step.finished"
    assert finished["severities"] == {"high": 1}
    assert finished["artifacts"][0]["digest"].startswith("sha256:")
    assert finished["top"][0]["rule_id"] == "aws-access-key"
    assert bodies[-3]["type"] == "gate.decided"
    assert bodies[-3]["decision"]["reasons"] == ["1 high finding (max 0)"]


def test_retries_with_backoff_until_the_receiver_accepts(secrets: SecretResolver) -> None:
    with receiver(fail_first=2) as recv:
        bus = SinkBus([_sink(recv.url, secrets, retries=3, backoff=0.1)])
        bus.emit(run_events()[0])
        bus.close(10)
    assert bus.failures == []
    times = [t for t, _, _ in recv.requests]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.09  # backoff 0.1 s, then doubled
    assert times[2] - times[1] >= 0.18


def test_a_rejected_request_is_not_retried_and_shows_no_secret(secrets: SecretResolver) -> None:
    with receiver(fail_first=10, status=401) as recv:
        bus = SinkBus([_sink(recv.url, secrets, retries=3, backoff=0.01)])
        bus.emit(run_events()[0])
        bus.close(10)
    assert len(recv.requests) == 1
    port = recv.url.split(":")[2].split("/")[0]
    assert bus.failures == [f"sink hook: run.started not delivered after 1 attempt(s): "
                            f"POST to http://127.0.0.1:{port}: HTTP 401"]


def test_server_errors_after_retries_show_no_secret(secrets: SecretResolver,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with receiver(fail_first=10) as recv:
        monkeypatch.setenv("HOOK_URL", recv.url)
        bus = SinkBus([_sink("${env:HOOK_URL}", secrets, retries=1, backoff=0.01)])
        bus.emit(run_events()[0])
        bus.close(10)
    assert len(recv.requests) == 2
    assert bus.failures == ["sink hook: run.started not delivered after 2 attempt(s): "
                            "POST to the URL from a secret: HTTP 500"]
    joined = "\n".join(bus.failures)
    assert TOKEN not in joined and "T0KEN-IN-PATH" not in joined and "127.0.0.1" not in joined


def test_redirects_are_not_followed(secrets: SecretResolver) -> None:
    with receiver(fail_first=10, status=302, location="http://127.0.0.1:9/steal") as recv:
        bus = SinkBus([_sink(recv.url, secrets, retries=0)])
        bus.emit(run_events()[0])
        bus.close(10)
    assert len(recv.requests) == 1
    assert bus.failures[0].endswith(": HTTP 302 (redirects are not followed)")


def test_unreachable_receiver(secrets: SecretResolver) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bus = SinkBus([_sink(f"http://127.0.0.1:{port}/x/T0KEN-IN-PATH", secrets, retries=0)])
    bus.emit(run_events()[0])
    bus.close(10)
    assert len(bus.failures) == 1
    assert bus.failures[0].startswith(f"sink hook: run.started not delivered after 1 attempt(s): "
                                      f"POST to http://127.0.0.1:{port}: ")
    assert "T0KEN-IN-PATH" not in bus.failures[0] and TOKEN not in bus.failures[0]


def test_a_sink_that_sleeps_5s_adds_well_under_5s(secrets: SecretResolver) -> None:
    with receiver(sleep=5) as recv:
        bus = SinkBus([_sink(recv.url, secrets, retries=0, timeout=30)])
        events = run_events(progress=50)
        started = time.monotonic()
        for event in events:
            bus.emit(event)
        emitted = time.monotonic() - started
        bus.close(1)
        elapsed = time.monotonic() - started
    assert emitted < 0.5  # the step threads never wait for the sink
    assert elapsed < 2.5
    delivered = [e for e in events if e.type not in ("step.progress", "step.log")]
    assert bus.failures == [f"sink hook: {len(delivered)} event(s) not delivered "
                            "(gave up after 1 s)"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"url": "ftp://example.com/x"}, "must be an http:// or https:// URL"),
        ({"url": "file:///etc/passwd"}, "must be an http:// or https:// URL"),
        ({"url": "https://user:pw@example.com/"}, "must not hold credentials"),
        ({"url": "https:///nohost"}, "has no host"),
        ({"url": "https://h", "headers": {"X-A": "a\r\nX-B: b"}}, "line break"),
        ({"url": "https://h", "headers": {"Content-Type": "text/plain"}}, "set by the sink"),
        ({"url": "https://h", "headers": {"bad name": "x"}}, "not a valid header name"),
    ],
)
def test_settings_are_checked(options: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError, match=expected):
        WebhookSettings(**options)


def test_a_resolved_url_is_checked_when_the_sink_starts(secrets: SecretResolver,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_URL", "ftp://secret.example/T0KEN")
    settings = WebhookSettings(url="${env:HOOK_URL}")
    with pytest.raises(ConfigError) as info:
        WebhookSink(settings, context("hook", secrets=secrets))
    assert info.value.message == ("with.url: the resolved URL must be an http:// or https:// "
                                  "URL")


def _valid(secret: str, headers: dict[str, str], body: bytes, *, max_age: float = 300) -> bool:
    """What a receiver does: recompute the HMAC over `<timestamp>.<body>`, compare in constant
    time, refuse an old timestamp."""
    import hashlib
    import hmac

    stamp = headers.get("X-Secpipe-Timestamp", "")
    given = headers.get("X-Secpipe-Signature", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > max_age:
        return False
    want = "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + body,
                                hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, given)


def test_requests_carry_an_hmac_signature_a_receiver_can_check(
        secrets: SecretResolver, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "k" * 12 + "-".join(["sig", "5e4d3c2b1a"])
    monkeypatch.setenv("HOOK_SIGNING_SECRET", key)
    with receiver() as recv:
        bus = SinkBus([_sink(recv.url, secrets, signing_secret="${env:HOOK_SIGNING_SECRET}")])
        for event in run_events():
            bus.emit(event)
        bus.close(10)
    assert bus.failures == [] and recv.raw
    for (_, headers, _), body in zip(recv.requests, recv.raw, strict=True):
        assert _valid(key, headers, body)
        assert not _valid(key, headers, body[:-1] + b" }")  # tampered body
        assert not _valid("another-secret-of-length", headers, body)
        assert key not in json.dumps(headers) and key.encode() not in body
    # a literal secret in secpipe.yaml, or one too short to sign with, is refused
    with pytest.raises(ValidationError, match="secret reference"):
        WebhookSettings(url="http://127.0.0.1:9/", signing_secret=key)
    monkeypatch.setenv("HOOK_SHORT_SECRET", "short")
    with pytest.raises(ConfigError, match="shorter than 16"):
        _sink("http://127.0.0.1:9/", secrets, signing_secret="${env:HOOK_SHORT_SECRET}")
