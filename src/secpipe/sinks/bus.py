"""The sink bus: hands each event to every sink off the step threads, in emit order.

Each sink has a *lane*: a bounded queue and one daemon thread that delivers from it, so a slow
or failing sink delays neither a step nor another sink. ``emit`` filters the event by each sink's
settings and appends it to the lanes that want it; it never raises and only waits for a short
lock. A delivery that fails is retried with exponential backoff; one that still fails becomes a
line in :attr:`SinkBus.failures`. ``close(deadline)`` bounds how long the end of a run waits for
the lanes to drain, then gives up on what is left and says so.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from secpipe.core.events import Event, StepProgress
from secpipe.sinks.interface import Sink, SinkError

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


class _Lane:
    """One sink's queue and delivery thread."""

    def __init__(self, sink: Sink[Any], size: int, failures: _Failures) -> None:
        self.sink = sink
        self.size = size
        self.failures = failures
        self.queue: deque[Event] = deque()
        self.cond = threading.Condition()
        self.busy = False
        """An event is being delivered (popped, not yet done)."""
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
            try:
                self._deliver(event)
            finally:
                with self.cond:
                    self.busy = False
                    self.cond.notify_all()
        try:
            self.sink.close()
        except Exception as exc:  # a sink never breaks a run
            self.failures.add(f"sink {self.sink.name}: close failed: {self._reason(exc)}")
        with self.cond:
            self.finished = True
            self.cond.notify_all()

    def _deliver(self, event: Event) -> None:
        settings = self.sink.settings
        attempts = 0
        while True:
            attempts += 1
            try:
                self.sink.deliver(event)
                return
            except Exception as exc:  # SinkError, or a plugin's bug: both are failed deliveries
                error = exc
            final = isinstance(error, SinkError) and not error.retry
            if final or attempts > settings.retries or self.abandon.is_set():
                break
            delay = min(settings.backoff * 2 ** (attempts - 1), MAX_BACKOFF)
            if self.abandon.wait(delay):
                break
        if not self.abandon.is_set():  # after close() gave up, its line counts this event
            self.failures.add(f"sink {self.sink.name}: {event.type} not delivered after "
                              f"{attempts} attempt(s): {self._reason(error)}")

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

    def give_up(self) -> int:
        """Stop the lane; the number of events it will not deliver."""
        with self.cond:
            self.abandon.set()
            left = len(self.queue) + (1 if self.busy else 0)
            self.queue.clear()
            self.cond.notify_all()
            return left


class SinkBus:
    """Delivers run events to sinks (implements :class:`secpipe.core.events.Emitter`).

    Usable with no sink at all. ``emit`` from any thread; ``close`` once, at the end of the run.
    """

    def __init__(self, sinks: Sequence[Sink[Any]] = (), *, queue_size: int = QUEUE_SIZE,
                 max_failures: int = MAX_FAILURES) -> None:
        self._failures = _Failures(max_failures)
        self._lock = threading.Lock()
        self._closed = False
        self._lanes = [_Lane(sink, max(1, queue_size), self._failures) for sink in sinks]

    @property
    def sinks(self) -> list[Sink[Any]]:
        return [lane.sink for lane in self._lanes]

    @property
    def failures(self) -> list[str]:
        """One line per event a sink could not take or deliver (the first
        :data:`MAX_FAILURES`, then a line counting the rest); secrets redacted."""
        return self._failures.snapshot()

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
            left = lane.give_up()
            what = f"{left} event(s) not delivered" if left else "did not finish closing"
            self._failures.add(f"sink {lane.sink.name}: {what} "
                               f"(gave up after {deadline_seconds:g} s)")

    def __enter__(self) -> SinkBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
