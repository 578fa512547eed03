"""The sink bus: hands each event to every sink off the step threads, in emit order.

Each sink has a *lane*: a bounded queue and one daemon thread that delivers from it, so a slow
or failing sink delays neither a step nor another sink. ``emit`` filters the event by each sink's
settings and appends it to the lanes that want it; it never raises and only waits for a short
lock. A delivery that fails is retried with exponential backoff; one that still fails becomes a
line in :attr:`SinkBus.failures`. ``close(deadline)`` bounds how long the end of a run waits for
the lanes to drain, then gives up on what is left and says so.

With a spool (``SinkBus(..., spool_dir=state_dir / "spool")``) nothing is lost quietly: an event
whose retries ran out, or that was still queued (or in flight) when ``close`` gave up, is written
to the sink's :class:`~secpipe.sinks.spool.Spool`, redacted, for ``secpipe notify replay``.
A receiver's ``Retry-After`` (:attr:`SinkError.retry_after`) sets the least wait before the next
attempt; one longer than :data:`MAX_BACKOFF` ends the retries and spools the event.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from secpipe.core.events import Event, StepProgress
from secpipe.sinks.interface import Sink, SinkError
from secpipe.sinks.spool import Spool

QUEUE_SIZE = 1000
"""Events a lane holds before it drops some (progress first)."""
MAX_FAILURES = 50
"""Failure lines kept; the rest are counted."""
MAX_BACKOFF = 30.0
"""Longest wait before one retry, in seconds."""
_MAX_LINE = 300


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 1] + "…"


class _Failures:
    """A bounded, thread-safe list of failure lines: the first ``limit``, then a count."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lines: list[str] = []
        self._more = 0
        self._lock = threading.Lock()

    def add(self, line: str) -> None:
        with self._lock:
            if len(self._lines) < self._limit:
                self._lines.append(_one_line(line))
            else:
                self._more += 1

    def snapshot(self) -> list[str]:
        with self._lock:
            more = [f"… and {self._more} more sink failure(s)"] if self._more else []
            return [*self._lines, *more]


@dataclass(frozen=True)
class DeliveryOutcome:
    """How :func:`deliver_with_retries` ended."""

    delivered: bool
    attempts: int
    error: Exception | None = None
    """The last failure (None when delivered)."""
    spoolable: bool = False
    """Undelivered but worth keeping for a replay: retries ran out, the receiver asked for a
    longer wait than a retry may take, or the wait was cut short. False when the receiver
    rejected the event (``SinkError(retry=False)``): a replay would be rejected too."""
    note: str = ""
    """Why the retries stopped early (``asked to retry after 120 s``), else empty."""


def deliver_with_retries(sink: Sink[Any], event: Event, stop: threading.Event | None = None,
                         deadline: float | None = None) -> DeliveryOutcome:
    """Deliver ``event`` with the sink's ``retries`` and ``backoff`` (doubled each time, at most
    :data:`MAX_BACKOFF`; at least the receiver's ``retry_after``). Waits end early when ``stop``
    is set; no wait goes past ``deadline`` (monotonic). Never raises (but KeyboardInterrupt)."""
    settings = sink.settings
    attempts = 0
    while True:
        attempts += 1
        try:
            sink.deliver(event)
            return DeliveryOutcome(True, attempts)
        except Exception as exc:  # SinkError, or a plugin's bug: both are failed deliveries
            error = exc
        if isinstance(error, SinkError) and not error.retry:
            return DeliveryOutcome(False, attempts, error, spoolable=False)
        if attempts > settings.retries or (stop is not None and stop.is_set()):
            return DeliveryOutcome(False, attempts, error, spoolable=True)
        delay = min(settings.backoff * 2 ** (attempts - 1), MAX_BACKOFF)
        asked = error.retry_after if isinstance(error, SinkError) else None
        if asked is not None:
            if asked > MAX_BACKOFF:
                return DeliveryOutcome(False, attempts, error, spoolable=True,
                                       note=f"asked to retry after {asked:g} s")
            delay = max(delay, asked)
        if deadline is not None and time.monotonic() + delay > deadline:
            return DeliveryOutcome(False, attempts, error, spoolable=True,
                                   note="no time left for another attempt")
        if stop is not None:
            if stop.wait(delay):
                return DeliveryOutcome(False, attempts, error, spoolable=True)
        else:
            time.sleep(delay)


@dataclass(frozen=True)
class SinkDelivery:
    """What one sink's lane did during a run (for the run summary)."""

    name: str
    kind: str
    delivered: int
    """Events delivered."""
    failed: int
    """Events not delivered (spooled ones included)."""
    spooled: int
    """Events written to the spool for ``secpipe notify replay``."""
    spool_path: Path | None
    """The sink's spool folder, when the bus has a spool."""

    def line(self) -> str:
        """``alerts (webhook): 12 delivered, 3 not delivered (3 spooled: secpipe notify replay
        alerts)``."""
        text = f"{self.name} ({self.kind}): {self.delivered} delivered"
        if self.failed:
            text += f", {self.failed} not delivered"
            if self.spooled:
                text += f" ({self.spooled} spooled: secpipe notify replay {self.name})"
        return text


class _Lane:
    """One sink's queue and delivery thread."""

    def __init__(self, sink: Sink[Any], size: int, failures: _Failures,
                 spool: Spool | None = None) -> None:
        self.sink = sink
        self.size = size
        self.failures = failures
        self.spool = spool
        self.queue: deque[Event] = deque()
        self.cond = threading.Condition()
        self.busy = False
        """An event is being delivered (popped, not yet done)."""
        self.current: Event | None = None
        self.delivered = 0
        self.failed = 0
        self.spooled = 0
        self.closing = False
        self.finished = False
        self.abandon = threading.Event()
        """Set when close() gave up: stop retrying, deliver nothing more."""
        self.progress_dropped = 0
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=f"secpipe-sink-{sink.name}")
        self.thread.start()

    def put(self, event: Event) -> None:
        with self.cond:
            if self.closing:
                return
            if len(self.queue) >= self.size:
                if isinstance(event, StepProgress):
                    self.progress_dropped += 1
                    return
                if not self._drop_one_progress():
                    self.failures.add(f"sink {self.sink.name}: queue full ({self.size} events), "
                                      f"dropped {event.type}")
                    return
            self.queue.append(event)
            self.cond.notify_all()

    def _drop_one_progress(self) -> bool:
        for index, queued in enumerate(self.queue):
            if isinstance(queued, StepProgress):
                del self.queue[index]
                self.progress_dropped += 1
                return True
        return False

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.queue and not self.closing:
                    self.cond.wait()
                if self.abandon.is_set() or not self.queue:
                    break
                event = self.queue.popleft()
                self.busy = True
                self.current = event
            outcome: DeliveryOutcome | None = None
            try:
                outcome = deliver_with_retries(self.sink, event, self.abandon)
            finally:
                with self.cond:
                    self.busy = False
                    self.current = None
                    # after close() gave up, it took (and counted, and spooled) this event
                    settle = outcome is not None and not self.abandon.is_set()
                    seq = None
                    if settle and outcome is not None:
                        if outcome.delivered:
                            self.delivered += 1
                        else:
                            self.failed += 1
                            if outcome.spoolable and self.spool is not None:
                                seq = self.spool.reserve()  # in order, however late written
                    self.cond.notify_all()
            if settle and outcome is not None and not outcome.delivered:
                self._failed(event, outcome, seq)
        try:
            self.sink.close()
        except Exception as exc:  # a sink never breaks a run
            self.failures.add(f"sink {self.sink.name}: close failed: {self._reason(exc)}")
        with self.cond:
            self.finished = True
            self.cond.notify_all()

    def _failed(self, event: Event, outcome: DeliveryOutcome, seq: int | None) -> None:
        error = outcome.error or SinkError("failed")
        line = (f"sink {self.sink.name}: {event.type} not delivered after "
                f"{outcome.attempts} attempt(s): {self._reason(error)}")
        if outcome.note:
            line += f" ({outcome.note})"
        if seq is not None:
            line += self._spool([event], f"not delivered: {self._reason(error)}", seq)
        self.failures.add(line)

    def _spool(self, events: list[Event], reason: str, seq: int | None = None) -> str:
        """Write ``events`` to the spool; the suffix for the failure line that says so."""
        if self.spool is None or not events:
            return ""
        wrote = self.spool.write(events, reason, self.sink.redact, seq)
        with self.cond:
            self.spooled += wrote.written
        if not wrote.dropped:
            return f"; spooled: secpipe notify replay {self.sink.name}"
        problem = self._redacted(wrote.problem)
        if wrote.written:
            return (f"; spooled {wrote.written}, dropped {wrote.dropped}: {problem} "
                    f"(secpipe notify replay {self.sink.name})")
        return f"; not spooled: {problem}"

    def _redacted(self, text: str) -> str:
        try:
            return self.sink.redact(text)
        except Exception:  # a broken redactor must not leak the text
            return "(redaction failed)"

    def _reason(self, exc: Exception) -> str:
        text = str(exc) or type(exc).__name__
        try:
            return self.sink.redact(text)
        except Exception:  # a broken redactor must not leak the text
            return type(exc).__name__

    def wait_drained(self, until: float) -> bool:
        """Wait until the lane finished (queue empty, sink closed) or ``until`` (monotonic)."""
        with self.cond:
            while not self.finished:
                left = until - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def give_up(self) -> tuple[int, str]:
        """Stop the lane; the number of events it will not deliver (the one in flight, whose
        request may still be under way, and the queued ones), and the suffix of the failure line
        when they were spooled. An event in flight is spooled too: delivered at least once,
        perhaps twice, rather than perhaps never."""
        with self.cond:
            self.abandon.set()
            left = ([self.current] if self.busy and self.current is not None else [])
            left.extend(self.queue)
            self.queue.clear()
            self.failed += len(left)
            seq = self.spool.reserve() if self.spool is not None and left else None
            self.cond.notify_all()
        suffix = self._spool(left, "not delivered before the end of the run", seq)
        return len(left), suffix


class SinkBus:
    """Delivers run events to sinks (implements :class:`secpipe.core.events.Emitter`).

    Usable with no sink at all. ``emit`` from any thread; ``close`` once, at the end of the run.
    """

    def __init__(self, sinks: Sequence[Sink[Any]] = (), *, queue_size: int = QUEUE_SIZE,
                 max_failures: int = MAX_FAILURES, spool_dir: Path | None = None) -> None:
        """``spool_dir`` (the project's ``<state_dir>/spool``) turns spooling on: each sink whose
        class allows it (:attr:`Sink.spools`; never the console) spools to
        ``spool_dir/<sink-name>/`` what it could not deliver."""
        self._failures = _Failures(max_failures)
        self._lock = threading.Lock()
        self._closed = False
        self._spool_dir = spool_dir
        self._lanes = [_Lane(sink, max(1, queue_size), self._failures,
                             self._spool_for(sink)) for sink in sinks]

    def _spool_for(self, sink: Sink[Any]) -> Spool | None:
        if self._spool_dir is None or not type(sink).spools or sink.kind == "console":
            return None
        try:
            return Spool(self._spool_dir, sink.name)
        except ValueError:  # a name the spool cannot use as a folder: the run still goes on
            self._failures.add(f"sink {sink.name}: cannot spool (not a valid folder name)")
            return None

    @property
    def sinks(self) -> list[Sink[Any]]:
        return [lane.sink for lane in self._lanes]

    @property
    def failures(self) -> list[str]:
        """One line per event a sink could not take or deliver (the first
        :data:`MAX_FAILURES`, then a line counting the rest); secrets redacted."""
        return self._failures.snapshot()

    def deliveries(self) -> list[SinkDelivery]:
        """Per sink (the console left out): delivered, not delivered and spooled counts. Call
        after :meth:`close` for the run's totals."""
        out = []
        for lane in self._lanes:
            if lane.sink.kind == "console":
                continue
            with lane.cond:
                out.append(SinkDelivery(lane.sink.name, lane.sink.kind, lane.delivered,
                                        lane.failed, lane.spooled,
                                        lane.spool.path if lane.spool else None))
        return out

    @property
    def progress_dropped(self) -> int:
        """``step.progress`` events dropped because a queue was full (not failures)."""
        return sum(lane.progress_dropped for lane in self._lanes)

    def emit(self, event: Event) -> None:
        """Queue ``event`` for every sink whose settings accept it; never raises."""
        with self._lock:  # one order for every lane: the order emit was called in
            if self._closed:
                return
            for lane in self._lanes:
                try:
                    if lane.sink.settings.accepts(event):
                        lane.put(event)
                except Exception as exc:  # a sink never breaks a run
                    self._failures.add(f"sink {lane.sink.name}: could not queue {event.type}: "
                                       f"{type(exc).__name__}")

    def close(self, deadline_seconds: float = 10.0) -> None:
        """Let the sinks deliver what is queued, waiting at most ``deadline_seconds`` in total,
        then give up on the rest (each such sink gets one failure line). Later emits are
        ignored."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for lane in self._lanes:
                with lane.cond:
                    lane.closing = True
                    lane.cond.notify_all()
        until = time.monotonic() + max(0.0, deadline_seconds)
        for lane in self._lanes:
            if lane.wait_drained(until):
                continue
            left, spooled = lane.give_up()
            what = f"{left} event(s) not delivered" if left else "did not finish closing"
            self._failures.add(f"sink {lane.sink.name}: {what} "
                               f"(gave up after {deadline_seconds:g} s){spooled}")

    def __enter__(self) -> SinkBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
