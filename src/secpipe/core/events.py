"""Run events and the bus that hands them to sinks. A sink never breaks a run."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """Something that happened during a run."""

    type: str
    """``run.started``, ``stage.started``, ``step.started``, ``step.progress``, ``step.log``,
    ``step.finished``, ``stage.finished``, ``gate.decided``, ``run.finished``."""
    run_id: str
    """The run it belongs to."""
    data: dict[str, Any] = field(default_factory=dict)
    """Event payload (never a secret in clear)."""
    time: float = field(default_factory=time.time)
    """When it happened."""


Sink = Callable[[Event], None]


class EventBus:
    """Delivers events to every sink, in order, from any thread. Sink errors are collected."""

    def __init__(self, sinks: list[Sink] | None = None) -> None:
        self._sinks: list[Sink] = list(sinks or [])
        self._lock = threading.Lock()
        self.failures: list[str] = []
        """One line per failed delivery (reported at the end of the run)."""

    def add(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def emit(self, event: Event) -> None:
        with self._lock:
            for sink in self._sinks:
                try:
                    sink(event)
                except Exception as exc:  # a sink never breaks a run
                    name = getattr(sink, "__qualname__", type(sink).__name__)
                    self.failures.append(f"sink {name} failed on {event.type}: {exc}")
