"""Delivery you can trust, against real HTTP receivers on 127.0.0.1: exactly once after a 500,
``Retry-After`` honoured, a receiver down for the whole run spooled and replayed once, the drain
bound spooling what is left, and no planted secret in any spool file."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sink_helpers import RecordingSink, context, run_events

from secpipe.core.events import Event, StepLog
from secpipe.keys.refs import SecretResolver
from secpipe.sinks import SinkBus
from secpipe.sinks.bus import deliver_with_retries
from secpipe.sinks.interface import Sink, SinkError, SinkSettings, retry_after_from
from secpipe.sinks.spool import Spool
from secpipe.sinks.webhook import WebhookSettings, WebhookSink

pytestmark = pytest.mark.server

SECRET = "-".join(["planted", "7c1d9e0f3a2b"])  # built at run time, never a literal


@dataclass
class Script:
    """A real HTTP receiver: answers each POST with the next (status, headers) of ``answers``,
    then 204; records every request with its status."""

    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    sleep: float = 0.0
    port: int = 0
    got: list[tuple[float, int, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def delivered(self) -> list[Any]:
        """Bodies answered with a 2xx."""
        return [body for _, status, body in self.got if 200 <= status < 300]


@contextmanager
def serve(script: Script) -> Iterator[Script]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            with script.lock:
                status, headers = script.answers.pop(0) if script.answers else (204, {})
                script.got.append((time.monotonic(), status, body))
            if script.sleep:
                time.sleep(script.sleep)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", script.port), Handler)
    server.daemon_threads = True
    script.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield script
    finally:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RetryAfterSink(Sink[WebhookSettings]):
    """A minimal HTTP sink that reports the receiver's Retry-After, as sinks are told to."""

    kind = "retry-after-test"
    Settings = WebhookSettings

    def deliver(self, event: Event) -> None:
        request = urllib.request.Request(  # noqa: S310 - a test URL on 127.0.0.1
            self.settings.url, data=json.dumps(event.to_dict(), default=str).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout):  # noqa: S310
                return
        except urllib.error.HTTPError as exc:
            after = retry_after_from(exc.headers)
            exc.close()
            raise SinkError(f"HTTP {exc.code}", retry=exc.code >= 500 or exc.code == 429,
                            retry_after=after) from None


def _webhook(url: str, root: Path, secrets: Any = None, **options: Any) -> WebhookSink:
    return WebhookSink(WebhookSettings(url=url, **options),
                       context("hook", root=root, secrets=secrets))


def test_500_then_200_delivers_the_event_exactly_once(tmp_path: Path) -> None:
    with serve(Script(answers=[(500, {})])) as recv:
        bus = SinkBus([_webhook(recv.url, tmp_path, retries=3, backoff=0.05)],
                      spool_dir=tmp_path / "spool")
        event = run_events()[0]
        bus.emit(event)
        bus.close(10)
    assert [status for _, status, _ in recv.got] == [500, 204]
    assert recv.delivered() == [json.loads(json.dumps(event.to_dict()))]
    assert bus.failures == []
    assert [d.line() for d in bus.deliveries()] == ["hook (webhook): 1 delivered"]
    assert Spool(tmp_path / "spool", "hook").count() == 0


def test_retry_after_sets_the_least_wait(tmp_path: Path) -> None:
    with serve(Script(answers=[(429, {"Retry-After": "1"}), (503, {"Retry-After": "0"})])) as recv:
        sink = RetryAfterSink(WebhookSettings(url=recv.url, retries=3, backoff=0.01),
                              context("hook", root=tmp_path))
        bus = SinkBus([sink], spool_dir=tmp_path / "spool")
        bus.emit(run_events()[0])
        bus.close(10)
    times = [t for t, _, _ in recv.got]
    assert [status for _, status, _ in recv.got] == [429, 503, 204]
    assert 0.9 <= times[1] - times[0] < 3.0  # waited for Retry-After: 1, not the 0.01 backoff
    assert times[2] - times[1] < 0.9  # Retry-After: 0 does not lengthen the doubled backoff
    assert bus.failures == []


def test_a_retry_after_longer_than_a_retry_may_wait_spools_at_once(tmp_path: Path) -> None:
    with serve(Script(answers=[(429, {"Retry-After": "120"})])) as recv:
        sink = RetryAfterSink(WebhookSettings(url=recv.url, retries=5, backoff=0.01),
                              context("hook", root=tmp_path))
        bus = SinkBus([sink], spool_dir=tmp_path / "spool")
        started = time.monotonic()
        bus.emit(run_events()[0])
        bus.close(10)
    assert time.monotonic() - started < 10.0  # spooled at once, not after 120 s
    assert len(recv.got) == 1
    assert bus.failures == ["sink hook: run.started not delivered after 1 attempt(s): HTTP 429 "
                            "(asked to retry after 120 s); spooled: secpipe notify replay hook"]
    assert [e.type for e in Spool(tmp_path / "spool", "hook").events()] == ["run.started"]


def test_a_receiver_down_for_the_whole_run_is_spooled_then_replayed_once(tmp_path: Path) -> None:
    port = _free_port()  # nothing listens here during the run
    url = f"http://127.0.0.1:{port}/hook"
    events = run_events()
    bus = SinkBus([_webhook(url, tmp_path, retries=1, backoff=0.01, events=["*"])],
                  spool_dir=tmp_path / "spool")
    started = time.monotonic()
    for event in events:
        bus.emit(event)
    bus.close(10)
    assert time.monotonic() - started < 8.0  # the drain bound is 10 s
    spool = Spool(tmp_path / "spool", "hook")
    assert list(spool.events()) == events
    assert len(bus.failures) == len(events)
    assert all(f.endswith("; spooled: secpipe notify replay hook") for f in bus.failures)
    (summary,) = bus.deliveries()
    assert (summary.delivered, summary.failed, summary.spooled) == (0, len(events), len(events))

    with serve(Script(port=port)) as recv:  # the receiver is back, on the same port
        sink = _webhook(url, tmp_path, retries=1, backoff=0.01)

        def send(event: Event) -> str | None:
            outcome = deliver_with_retries(sink, event)
            return None if outcome.delivered else str(outcome.error)

        first = spool.replay(send)
        second = spool.replay(send)
    assert (first.delivered, first.left, first.error) == (len(events), 0, "")
    assert second.delivered == 0
    assert [b["type"] for b in recv.delivered()] == [e.type for e in events]  # once, in order
    assert [b["time"] for b in recv.delivered()] == [e.time for e in events]
    assert spool.files() == [] and spool.count() == 0


def test_the_drain_bound_spools_what_is_left_without_waiting(tmp_path: Path) -> None:
    with serve(Script(sleep=3.0)) as recv:
        bus = SinkBus([_webhook(recv.url, tmp_path, retries=0, timeout=30)],
                      spool_dir=tmp_path / "spool")
        events = [e for e in run_events() if e.type not in ("step.progress", "step.log")]
        for event in events:
            bus.emit(event)
        started = time.monotonic()
        bus.close(0.5)
        took = time.monotonic() - started
        assert took < 2.5  # the receiver answers after 3 s: the bound, not the answer, ended it
    spooled = list(Spool(tmp_path / "spool", "hook").events())
    assert spooled == events  # the one in flight too: at least once rather than perhaps never
    assert bus.failures == [f"sink hook: {len(events)} event(s) not delivered (gave up after "
                            "0.5 s); spooled: secpipe notify replay hook"]


def test_no_planted_secret_reaches_the_spool(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", SECRET)
    secrets = SecretResolver(tmp_path)
    url = f"http://127.0.0.1:{_free_port()}/hook"
    sink = _webhook(url, tmp_path, secrets, retries=0, events=["*"],
                    headers={"Authorization": "Bearer ${env:HOOK_TOKEN}"})
    bus = SinkBus([sink], spool_dir=tmp_path / "spool")
    for event in run_events():
        bus.emit(event)
    bus.emit(StepLog("r", step="s", message=f"the token is {SECRET}"))
    bus.close(10)
    files = list((tmp_path / "spool").rglob("*.jsonl"))
    assert files
    for path in files:
        assert SECRET.encode() not in path.read_bytes()
    assert "the token is ***" in "".join(p.read_text() for p in files)
    assert not any(SECRET in line for line in bus.failures)


class _FakeConsole(RecordingSink):
    kind = "console"


def test_a_rejected_event_is_not_spooled_and_the_console_never_is(tmp_path: Path) -> None:
    with serve(Script(answers=[(400, {})])) as recv:
        console = _FakeConsole(SinkSettings(retries=0), name="console", fail_first=1)
        bus = SinkBus([_webhook(recv.url, tmp_path), console], spool_dir=tmp_path / "spool")
        bus.emit(run_events()[0])
        bus.close(10)
    assert len(recv.got) == 1
    console_line, hook = sorted(bus.failures)
    assert console_line.startswith("sink console:") and console_line.endswith("refused")
    assert hook.startswith("sink hook:") and hook.endswith("HTTP 400")  # not spooled: a replay
    # would be refused too
    assert not (tmp_path / "spool").exists() or not list((tmp_path / "spool").rglob("*.jsonl"))
    assert [d.name for d in bus.deliveries()] == ["hook"]


def test_without_a_spool_the_bus_behaves_as_before(tmp_path: Path) -> None:
    sink = RecordingSink(SinkSettings(retries=0), name="rec", fail_first=5)
    bus = SinkBus([sink])
    bus.emit(run_events()[0])
    bus.close(5)
    assert bus.failures == ["sink rec: run.started not delivered after 1 attempt(s): refused"]
    assert bus.deliveries()[0].spool_path is None
