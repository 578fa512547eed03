"""Test helper: an in-memory event emitter for runner tests."""

from __future__ import annotations


class EventList(list):  # type: ignore[type-arg]
    """``Runner(project, store, EventList())`` keeps every event the run emits, in order."""

    def emit(self, event: object) -> None:
        self.append(event)
