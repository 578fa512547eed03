"""What a step returns (:class:`StepResult`) and what a gate decides (:class:`GateDecision`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from secpipe.core.artifacts import Artifact
from secpipe.core.findings import Finding


class StepStatus(StrEnum):
    """How a step ended."""

    PASSED = "passed"
    """It completed (it may still have findings: a scanner passes when it could scan)."""
    FAILED = "failed"
    """A gate (or a verification) decided against the run."""
    ERROR = "error"
    """It could not complete: bad input, crash, timeout. Its stage fails closed."""
    SKIPPED = "skipped"
    """It did no work: it had nothing to work on (its message starts ``not configured:`` or
    ``nothing found:``). Never a pass in disguise: the run summary lists it and
    ``policy.require`` can make it fail the run. (A stage recorded SKIPPED did not run because
    an earlier stage failed.)"""


@dataclass(frozen=True)
class Skipped:
    """An input a step did not (fully) analyse, and why. Reported, never silent."""

    path: str
    """What was skipped."""
    reason: str
    """Why: ``binary``, ``too large (… bytes)``, ``unreadable: …``."""


@dataclass(frozen=True)
class GateDecision:
    """The verdict of one gate over everything gathered so far."""

    passed: bool
    """True when no rule of the policy failed."""
    reasons: tuple[str, ...] = ()
    """One line per failed rule, e.g. ``2 high findings (max 0)``."""
    notes: tuple[str, ...] = ()
    """Informational lines: expired suppressions, baseline matches, metrics checked."""
    counted: int = 0
    """Number of findings the gate judged (after suppressions and baseline)."""
    suppressed: int = 0
    """Number of findings suppressed with a valid reason."""
    baselined: int = 0
    """Number of findings matched by the baseline."""
    accepted: tuple[tuple[str, str], ...] = ()
    """(fingerprint, why) of each finding the gate did not count: ``suppressed: <reason>`` or
    ``in the baseline``. Reports mark these findings with it."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "counted": self.counted,
            "suppressed": self.suppressed,
            "baselined": self.baselined,
            "accepted": [list(a) for a in self.accepted],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateDecision:
        return cls(
            passed=bool(data["passed"]),
            reasons=tuple(data.get("reasons", ())),
            notes=tuple(data.get("notes", ())),
            counted=int(data.get("counted", 0)),
            suppressed=int(data.get("suppressed", 0)),
            baselined=int(data.get("baselined", 0)),
            accepted=tuple((str(a[0]), str(a[1])) for a in data.get("accepted", ())),
        )


@dataclass(frozen=True)
class StepResult:
    """Everything one step produced."""

    status: StepStatus = StepStatus.PASSED
    """How it ended."""
    findings: tuple[Finding, ...] = ()
    """What it found."""
    metrics: Mapping[str, float] = field(default_factory=dict)
    """Named numbers (``accuracy``, ``files_scanned``, ``bytes_scanned`` …) the gate can bound."""
    artifacts: tuple[Artifact, ...] = ()
    """Files it produced."""
    skipped: tuple[Skipped, ...] = ()
    """Inputs it did not fully analyse."""
    message: str = ""
    """One line for the summary (an error's diagnostic when status is ERROR)."""
    gate: GateDecision | None = None
    """Set by gate steps."""
    tool: str = ""
    """Tool name and version that produced the result (``secpipe 0.1.0``, ``gitleaks 8.30``)."""


@dataclass(frozen=True)
class FinishedStep:
    """A step of the current run that has ended, as the runner holds it in memory. Later steps
    see these in ``StepContext.earlier`` (what an earlier step produced: artifacts, metrics)."""

    step_id: str
    """Id inside the pipeline."""
    kind: str
    """Step kind (``uses:``)."""
    stage: str
    """Stage name."""
    result: StepResult
    """What it returned (its message already redacted)."""

    @property
    def status(self) -> StepStatus:
        return self.result.status

    @property
    def artifacts(self) -> tuple[Artifact, ...]:
        return self.result.artifacts

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.result.findings

    @property
    def metrics(self) -> Mapping[str, float]:
        return self.result.metrics

    @property
    def skipped(self) -> tuple[Skipped, ...]:
        return self.result.skipped

    @property
    def message(self) -> str:
        return self.result.message

    @property
    def tool(self) -> str:
        return self.result.tool

    @property
    def gate(self) -> GateDecision | None:
        return self.result.gate


class StepView(Protocol):
    """What provenance needs of a step, live (:class:`FinishedStep`) or recorded
    (``runstore.records.StepRecord``)."""

    @property
    def step_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def stage(self) -> str: ...
    @property
    def status(self) -> StepStatus: ...
    @property
    def tool(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def findings(self) -> tuple[Finding, ...]: ...
    @property
    def skipped(self) -> tuple[Skipped, ...]: ...
    @property
    def artifacts(self) -> tuple[Artifact, ...]: ...
    @property
    def gate(self) -> GateDecision | None: ...
