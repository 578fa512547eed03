"""Typed run events. The runner emits them; sinks (``secpipe.sinks``) deliver them.

Every event is a frozen dataclass with a ``type`` name and ``to_dict()`` (JSON-ready, the same
shape every sink sees). Payloads never hold a secret in clear: messages are redacted by the runner
before an event is made, findings travel as summaries without evidence.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Protocol

from secpipe.core.findings import Finding, Severity
from secpipe.core.results import GateDecision, StepResult

TOP_FINDINGS = 10
"""How many findings a ``step.finished`` event lists (worst first)."""
MAX_EVENT_METRICS = 100
"""How many step metrics a ``step.finished`` event carries."""
MAX_EVENT_RULES = 100
"""How many rule ids a ``step.finished`` event counts one by one (the rest: ``other``)."""


@dataclass(frozen=True)
class Event:
    """Something that happened during a run."""

    type: ClassVar[str] = "event"
    run_id: str
    """The run it belongs to."""
    time: float = field(default_factory=time.time, kw_only=True)
    """When it happened (Unix time)."""

    @property
    def severity(self) -> Severity | None:
        """The worst severity it carries (sinks filter on it); None when it carries none."""
        return None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["type"] = self.type
        return data


@dataclass(frozen=True)
class RunStarted(Event):
    type: ClassVar[str] = "run.started"
    pipeline: str
    project: str
    stage_names: tuple[str, ...] = ()
    """Stage names in order."""
    stages: tuple[tuple[str, ...], ...] = ()
    """Step ids of each stage."""


@dataclass(frozen=True)
class StageStarted(Event):
    type: ClassVar[str] = "stage.started"
    stage: str
    index: int


@dataclass(frozen=True)
class StepStarted(Event):
    type: ClassVar[str] = "step.started"
    step: str
    kind: str
    stage: str


@dataclass(frozen=True)
class StepProgress(Event):
    type: ClassVar[str] = "step.progress"
    step: str
    done: int
    total: int | None
    what: str


@dataclass(frozen=True)
class StepLog(Event):
    type: ClassVar[str] = "step.log"
    step: str
    message: str


@dataclass(frozen=True)
class FindingBrief:
    """A finding as events carry it: no evidence."""

    severity: str
    rule_id: str
    title: str
    location: str
    fingerprint: str

    @classmethod
    def of(cls, finding: Finding) -> FindingBrief:
        return cls(finding.severity.value, finding.rule_id, finding.title,
                   finding.location.display(), finding.fingerprint)


@dataclass(frozen=True)
class ArtifactBrief:
    """An artifact as events carry it."""

    name: str
    digest: str
    size: int
    media_type: str


@dataclass(frozen=True)
class StepFinished(Event):
    type: ClassVar[str] = "step.finished"
    step: str
    kind: str
    stage: str
    status: str
    """passed, failed, error."""
    message: str
    duration: float
    findings: int = 0
    """How many findings it returned."""
    severities: Mapping[str, int] = field(default_factory=dict)
    """Count per severity name."""
    top: tuple[FindingBrief, ...] = ()
    """The worst findings (at most :data:`TOP_FINDINGS`)."""
    artifacts: tuple[ArtifactBrief, ...] = ()
    """What it produced, with digests."""
    skipped: int = 0
    """Inputs it could not fully analyse."""
    gate: GateDecision | None = None
    """The decision, for gate steps."""
    metrics: Mapping[str, float] = field(default_factory=dict)
    """The step's named numbers (``accuracy``, ``files_scanned`` …), at most
    :data:`MAX_EVENT_METRICS`."""
    rules: Mapping[str, int] = field(default_factory=dict)
    """Count of findings per rule id: the :data:`MAX_EVENT_RULES` most frequent, the rest
    summed under ``other``."""

    @property
    def severity(self) -> Severity | None:
        ranked = [Severity(s) for s, n in self.severities.items() if n]
        return max(ranked, key=lambda s: s.rank) if ranked else None

    @classmethod
    def of(cls, run_id: str, step: str, kind: str, stage: str, result: StepResult,
           duration: float) -> StepFinished:
        counts: dict[str, int] = {}
        for f in result.findings:
            counts[f.severity.value] = counts.get(f.severity.value, 0) + 1
        worst = sorted(result.findings, key=lambda f: (-f.severity.rank, f.location.path))
        by_rule = Counter(f.rule_id for f in result.findings).most_common()
        rules = dict(by_rule[:MAX_EVENT_RULES])
        if len(by_rule) > MAX_EVENT_RULES:
            rules["other"] = rules.get("other", 0) + sum(n for _, n in by_rule[MAX_EVENT_RULES:])
        return cls(
            run_id, step=step, kind=kind, stage=stage, status=result.status.value,
            message=result.message, duration=duration, findings=len(result.findings),
            severities=counts, top=tuple(FindingBrief.of(f) for f in worst[:TOP_FINDINGS]),
            artifacts=tuple(ArtifactBrief(a.name, a.digest, a.size, a.media_type)
                            for a in result.artifacts),
            skipped=len(result.skipped), gate=result.gate,
            metrics=dict(list(result.metrics.items())[:MAX_EVENT_METRICS]), rules=rules)


@dataclass(frozen=True)
class StageFinished(Event):
    type: ClassVar[str] = "stage.finished"
    stage: str
    status: str


@dataclass(frozen=True)
class GateDecided(Event):
    type: ClassVar[str] = "gate.decided"
    step: str
    stage: str
    decision: GateDecision


@dataclass(frozen=True)
class RunFinished(Event):
    type: ClassVar[str] = "run.finished"
    pipeline: str
    status: str
    """passed, failed, error, interrupted."""
    exit_code: int


EVENT_TYPES: tuple[type[Event], ...] = (RunStarted, StageStarted, StepStarted, StepProgress,
                                        StepLog, StepFinished, StageFinished, GateDecided,
                                        RunFinished)
"""Every event type, in the order a run emits them."""


class Emitter(Protocol):
    """Where the runner sends events (``secpipe.sinks.bus.SinkBus``)."""

    def emit(self, event: Event) -> None:
        """Hand over one event; never blocks on delivery, never raises."""
