"""The run store: every run, stage, step, finding and gate decision, in SQLite.

``RunStore`` (and with it ``sqlite3``) is imported on first use, so the records can be used by
code that never opens a store (a one-file ``secpipe scan``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from secpipe.runstore.records import RunRecord, StageRecord, StepRecord

if TYPE_CHECKING:
    from secpipe.runstore.sqlite import RunStore

__all__ = ["RunRecord", "RunStore", "StageRecord", "StepRecord"]


def __getattr__(name: str) -> Any:
    if name == "RunStore":
        from secpipe.runstore.sqlite import RunStore

        return RunStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
