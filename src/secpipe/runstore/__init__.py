"""The run store: every run, stage, step, finding and gate decision, in SQLite."""

from secpipe.runstore.records import RunRecord, StageRecord, StepRecord
from secpipe.runstore.sqlite import RunStore

__all__ = ["RunRecord", "RunStore", "StageRecord", "StepRecord"]
