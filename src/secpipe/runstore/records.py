"""What the run store gives back: a whole run, ready for reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from secpipe.core.artifacts import Artifact
from secpipe.core.findings import Finding
from secpipe.core.results import GateDecision, Skipped, StepStatus


@dataclass(frozen=True)
class StepRecord:
    """One step of a recorded run."""

    step_id: str
    """Id inside the pipeline."""
    kind: str
    """Step kind (``uses:``)."""
    stage: str
    """Stage name."""
    status: StepStatus
    """How it ended."""
    started: float
    """Unix time it started."""
    duration: float
    """Seconds it took."""
    message: str = ""
    """Summary line or error diagnostic."""
    tool: str = ""
    """Tool and version."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Metrics it produced."""
    findings: tuple[Finding, ...] = ()
    """Findings it produced."""
    skipped: tuple[Skipped, ...] = ()
    """Inputs it could not fully analyse."""
    artifacts: tuple[Artifact, ...] = ()
    """Artifacts it produced."""
    gate: GateDecision | None = None
    """Its decision, for gate steps."""


@dataclass(frozen=True)
class StageRecord:
    """One stage of a recorded run."""

    name: str
    """Stage name."""
    index: int
    """Position (0-based)."""
    status: StepStatus
    """passed, failed (a gate failed), error or skipped."""


@dataclass(frozen=True)
class RunRecord:
    """A whole recorded run."""

    run_id: str
    """Sortable id ``YYYYmmdd-HHMMSS-xxxx``."""
    pipeline: str
    """Pipeline name."""
    project: str
    """Project folder."""
    started: float
    """Unix time it started."""
    finished: float | None
    """Unix time it ended (None while running or when it died)."""
    status: str
    """running, passed, failed, error, interrupted."""
    exit_code: int | None
    """The CLI exit code it ended with."""
    secpipe_version: str
    """Version of secpipe that ran it."""
    stages: tuple[StageRecord, ...] = ()
    """Its stages."""
    steps: tuple[StepRecord, ...] = ()
    """Its steps, in stage order."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form run facts (git commit of the project, config digest)."""

    @property
    def findings(self) -> tuple[Finding, ...]:
        """All findings of all steps, deduplicated by fingerprint (first kept)."""
        seen: set[str] = set()
        out: list[Finding] = []
        for step in self.steps:
            for finding in step.findings:
                if finding.fingerprint not in seen:
                    seen.add(finding.fingerprint)
                    out.append(finding)
        return tuple(out)

    @property
    def gates(self) -> tuple[StepRecord, ...]:
        return tuple(s for s in self.steps if s.gate is not None)

    @property
    def accepted(self) -> dict[str, str]:
        """fingerprint -> why the gates did not count it (suppressed with a reason, or in the
        baseline); a later gate's word wins."""
        out: dict[str, str] = {}
        for step in self.gates:
            assert step.gate is not None
            out.update(dict(step.gate.accepted))
        return out
