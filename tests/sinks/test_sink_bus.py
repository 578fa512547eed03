"""The sink bus: filters, order, retries with backoff, bounded failures, overflow, drain bound."""

from __future__ import annotations

import io
import random
import threading
import time
from pathlib import Path

import pytest
from sink_helpers import RUN, RecordingSink, run_events

from secpipe.cli.render import ConsoleSink
from secpipe.core.events import (
    Event,
    RunFinished,
    StepFinished,
    StepLog,
    StepProgress,
    StepStarted,
)
from secpipe.keys.refs import SecretResolver
from secpipe.sinks import SinkBus, SinkSettings
from secpipe.sinks.interface import DEFAULT_EVENTS, EVENT_NAMES


def _types(events: list[Event]) -> list[str]:
    return [e.type for e in events]


def _finished(status: str = "passed", **severities: int) -> StepFinished:
    return StepFinished(RUN, step="s", kind="k", stage="st", status=status, message="",
                        duration=0.1, findings=sum(severities.values()), severities=severities)


def test_default_events_leave_out_progress_and_log() -> None:
    sink = RecordingSink()
    bus = SinkBus([sink])
    for event in run_events():
        bus.emit(event)
    bus.close(5)
    expected = [e.type for e in run_events() if e.type not in ("step.progress", "step.log")]
    assert _types(sink.events) == expected
    assert set(DEFAULT_EVENTS) == set(EVENT_NAMES) - {"step.progress", "step.log"}
    assert bus.failures == []


def test_event_patterns_select_types() -> None:
    sink = RecordingSink(SinkSettings(events=["step.*", "gate.decided"]))
    bus = SinkBus([sink])
    for event in run_events():
        bus.emit(event)
    bus.close(5)
    assert {e.type for e in sink.events} == {"step.started", "step.progress", "step.log",
                                             "step.finished", "gate.decided"}


def test_min_severity_filters_only_events_that_carry_one() -> None:
    settings = SinkSettings(events=["*"], min_severity="HIGH")  # type: ignore[arg-type]
    assert settings.accepts(_finished(critical=1))
    assert settings.accepts(_finished(high=2, low=1))
    assert not settings.accepts(_finished(medium=3))
    assert not settings.accepts(_finished())  # found nothing: below every threshold
    assert settings.accepts(_finished("error"))  # could not judge: always delivered
    assert settings.accepts(RunFinished(RUN, pipeline="p", status="passed", exit_code=0))
    assert settings.accepts(StepLog(RUN, step="s", message="m"))


def test_events_reach_each_sink_in_emit_order() -> None:
    slow = RecordingSink(SinkSettings(events=["*"]), name="slow")
    fast = RecordingSink(SinkSettings(events=["*"]), name="fast")
    rng = random.Random(7)
    original = slow.deliver

    def jittery(event: Event) -> None:
        time.sleep(rng.random() / 5000)
        original(event)

    slow.deliver = jittery  # type: ignore[method-assign]
    bus = SinkBus([slow, fast])

    def emitter(worker: int) -> None:
        for i in range(200):
            bus.emit(StepLog(RUN, step=f"w{worker}", message=str(i)))

    threads = [threading.Thread(target=emitter, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bus.close(10)
    assert len(fast.events) == 800
    assert slow.events == fast.events  # one order for every sink
    for w in range(4):  # and each emitter's events in the order it emitted them
        mine = [int(e.message) for e in fast.events if isinstance(e, StepLog) and e.step == f"w{w}"]
        assert mine == list(range(200))


def test_retries_back_off_then_deliver() -> None:
    sink = RecordingSink(SinkSettings(retries=3, backoff=0.05), fail_first=3)
    bus = SinkBus([sink])
    bus.emit(run_events()[0])
    bus.close(5)
    assert _types(sink.events) == ["run.started"]
    gaps = [b - a for a, b in zip(sink.attempts, sink.attempts[1:], strict=False)]
    assert len(gaps) == 3
    for gap, wait in zip(gaps, (0.05, 0.1, 0.2), strict=True):  # doubled each time
        assert gap >= wait * 0.9
    assert bus.failures == []


def test_failure_after_retries_is_one_line() -> None:
    sink = RecordingSink(SinkSettings(retries=2, backoff=0.01), name="hook", fail_first=99)
    bus = SinkBus([sink])
    bus.emit(run_events()[0])
    bus.close(5)
    assert len(sink.attempts) == 3
    assert bus.failures == ["sink hook: run.started not delivered after 3 attempt(s): refused"]


def test_failures_are_bounded() -> None:
    sink = RecordingSink(SinkSettings(events=["*"], retries=0), name="down", fail_first=10**6)
    bus = SinkBus([sink], max_failures=5)
    for i in range(100):
        bus.emit(StepLog(RUN, step="s", message=str(i)))
    bus.close(5)
    assert len(bus.failures) == 6
    assert bus.failures[-1] == "… and 95 more sink failure(s)"


def test_a_full_queue_drops_progress_first() -> None:
    sink = RecordingSink(SinkSettings(events=["*"]), name="busy")
    sink.release.clear()
    bus = SinkBus([sink], queue_size=3)
    first = StepStarted(RUN, step="s", kind="k", stage="st")
    bus.emit(first)
    assert sink.entered.wait(5)  # the first event is in delivery; the queue is empty
    p1, p2, p3 = (StepProgress(RUN, step="s", done=i, total=3, what="x") for i in (1, 2, 3))
    log1 = StepLog(RUN, step="s", message="one")
    for event in (p1, p2, log1):  # queue full
        bus.emit(event)
    bus.emit(p3)  # progress is dropped, silently
    finished = _finished()
    done = RunFinished(RUN, pipeline="p", status="passed", exit_code=0)
    bus.emit(finished)  # evicts p1
    bus.emit(done)  # evicts p2
    bus.emit(StepLog(RUN, step="s", message="two"))  # nothing left to evict: dropped, reported
    sink.release.set()
    bus.close(5)
    assert sink.events == [first, log1, finished, done]
    assert bus.progress_dropped == 3
    assert bus.failures == ["sink busy: queue full (3 events), dropped step.log"]


def test_close_gives_up_during_backoff() -> None:
    sink = RecordingSink(SinkSettings(retries=10, backoff=30), name="down", fail_first=10**6)
    bus = SinkBus([sink])
    for event in run_events():
        bus.emit(event)
    started = time.monotonic()
    bus.close(0.5)
    assert time.monotonic() - started < 1.5
    wanted = [e for e in run_events() if sink.settings.accepts(e)]
    assert bus.failures == [f"sink down: {len(wanted)} event(s) not delivered "
                            "(gave up after 0.5 s)"]


def test_failure_lines_are_redacted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "s3cr3t-token-value")
    secrets = SecretResolver(tmp_path)
    token = secrets.resolve("${env:HOOK_TOKEN}")
    sink = RecordingSink(SinkSettings(retries=0), fail_first=1, secrets=secrets,
                         message=f"rejected Authorization: Bearer {token}\nand more")
    bus = SinkBus([sink])
    bus.emit(run_events()[0])
    bus.close(5)
    assert bus.failures == ["sink rec: run.started not delivered after 1 attempt(s): "
                            "rejected Authorization: Bearer *** and more"]


def test_a_crashing_sink_never_breaks_emit() -> None:
    sink = RecordingSink(SinkSettings(retries=0))

    def crash(event: Event) -> None:
        raise RuntimeError("boom")

    sink.deliver = crash  # type: ignore[method-assign]
    bus = SinkBus([sink])
    bus.emit(run_events()[0])
    bus.close(5)
    assert bus.failures == ["sink rec: run.started not delivered after 1 attempt(s): boom"]
    assert sink.closed


def test_no_sinks_and_emit_after_close() -> None:
    bus = SinkBus()
    for event in run_events():
        bus.emit(event)
    bus.close(0)
    bus.emit(run_events()[0])
    assert bus.failures == [] and bus.sinks == []


def test_console_only_prints_through_the_bus() -> None:
    out = io.StringIO()
    bus = SinkBus([ConsoleSink(stream=out)])
    for event in run_events():
        bus.emit(event)
    bus.close(5)
    text = out.getvalue()
    assert text.startswith(f"secpipe: running pipeline mlsecops (run {RUN})\n")
    assert "           gate: 1 high finding (max 0)\n" in text
    assert text.endswith(f"secpipe: run {RUN} failed (exit 1)\n")
    assert bus.failures == []
