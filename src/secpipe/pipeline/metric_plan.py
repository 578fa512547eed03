"""Where metric bounds are judged: checked when a pipeline is planned, before anything runs.

Every gate judges the bounds of its ``with: metrics`` or, when it sets none, of the project's
``policy.metrics``. A step kind says which metrics it can produce (``StepKind.produces_metrics``,
``fnmatch`` patterns), and from that the plan decides, bound by bound:

* no step of the pipeline can produce the metric: a :class:`ConfigError` naming the metric and
  the step kinds that could (a scan-only pipeline under a policy that bounds ``accuracy``);
* some step before the gate can produce it: the gate judges it, as before;
* only later steps can: a later gate that judges the same bound after them does, and this gate
  leaves it out (its decision notes which gate judges it); with no such gate, a
  :class:`ConfigError`, since the bound would be judged nowhere.

A bound on ``step-id.name`` asks that step alone. The built-in pipelines already give their
early gates ``metrics: []``, so nothing changes for them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from secpipe.core.errors import ConfigError, SecpipeError
from secpipe.core.registry import available_kinds, load_kind
from secpipe.core.results import StepResult
from secpipe.core.step import StepContext, StepKind
from secpipe.policy.gate import GateStep
from secpipe.policy.metrics import MetricBound
from secpipe.policy.model import PolicySpec

if TYPE_CHECKING:
    from secpipe.pipeline.runner import PlannedStep


class DeferredBoundsPolicy(PolicySpec):
    """A gate's settings with the metric bounds it cannot judge taken out (set by the planner,
    never read from a configuration file)."""

    judged_later: tuple[str, ...] = ()
    """Notes naming the gate that judges each bound left out."""


class MetricsAwareGate(GateStep):
    """A gate some of whose metric bounds are judged by a later gate: it judges the rest."""

    def run(self, ctx: StepContext, settings: PolicySpec) -> StepResult:
        notes: tuple[str, ...] = ()
        if isinstance(settings, DeferredBoundsPolicy):
            notes = settings.judged_later
            settings = PolicySpec.model_validate(
                settings.model_dump(exclude_unset=True, exclude={"judged_later"}))
        result = super().run(ctx, settings)
        if result.gate is None or not notes:
            return result
        return replace(result, gate=replace(result.gate, notes=(*result.gate.notes, *notes)))


@dataclass(frozen=True)
class _Placed:
    index: int
    """Position of the step's stage."""
    step: PlannedStep
    """The planned step."""


def _bounds(policy: PolicySpec, gate: PlannedStep) -> dict[MetricBound, str]:
    """The gate's bounds (its own ``metrics``, else the policy's), each with its text."""
    settings = gate.settings
    assert isinstance(settings, PolicySpec)
    texts = settings.metrics if "metrics" in settings.model_fields_set else policy.metrics
    return {MetricBound.parse(text): text for text in texts or []}


def _can_produce(kind: type[StepKind[Any]], metric: str) -> bool:
    return any(fnmatchcase(metric, pattern) for pattern in kind.produces_metrics)


def _producers(bound: MetricBound, steps: list[_Placed]) -> list[_Placed]:
    """The steps that can produce the bound's metric (``step-id.name``: that step only)."""
    head, dot, tail = bound.name.partition(".")
    if dot and any(p.step.step_id == head for p in steps):
        return [p for p in steps if p.step.step_id == head and _can_produce(p.step.kind, tail)]
    return [p for p in steps if _can_produce(p.step.kind, bound.name)]


def _kinds_producing(metric: str) -> list[str]:
    """Installed step kinds that declare ``metric`` (read only to explain an error)."""
    found = []
    for name in available_kinds():
        try:
            kind: type[StepKind[Any]] | None = load_kind(name)
        except (SecpipeError, ImportError):  # a kind that cannot load explains nothing here
            kind = None
        if kind is not None and _can_produce(kind, metric.rpartition(".")[2]):
            found.append(name)
    return found


def place_metric_bounds(policy: PolicySpec, pipeline: str,
                        stages: list[list[PlannedStep]]) -> list[list[PlannedStep]]:
    """The planned stages with each gate judging only the bounds it can (see the module); a
    bound judged nowhere is a :class:`ConfigError`."""
    placed = [_Placed(i, step) for i, stage in enumerate(stages) for step in stage]
    gates = [p for p in placed if issubclass(p.step.kind, GateStep)]
    bounds = {p.step.step_id: _bounds(policy, p.step) for p in gates}
    changed: dict[str, PlannedStep] = {}
    for gate in gates:
        where = f"pipeline {pipeline}: gate {gate.step.step_id}"
        keep: list[str] = []
        judged_by: dict[str, list[str]] = {}
        for bound, text in bounds[gate.step.step_id].items():
            producers = _producers(bound, placed)
            if not producers:
                kinds = _kinds_producing(bound.name)
                raise ConfigError(
                    f"{where}: metric bound '{text}': no step of the pipeline can produce "
                    f"{bound.name}" + (f" (step kinds that can: {', '.join(kinds)})"
                                       if kinds else ""),
                    hint="add a train + evaluate stage before the gate, or give the gate "
                    "'with: {metrics: []}' to judge findings only")
            if any(p.index < gate.index for p in producers):
                keep.append(text)
                continue
            later = [g for g in gates if g.index > gate.index and bound in bounds[g.step.step_id]
                     and any(p.index < g.index for p in producers)]
            if not later:
                after = ", ".join(f"{p.step.step_id} (stage {p.step.stage})" for p in producers)
                raise ConfigError(
                    f"{where}: metric bound '{text}' is judged before any step that can produce "
                    f"{bound.name} ({after}), and no later gate judges it",
                    hint=f"bound it in a gate after stage {producers[-1].step.stage}")
            judged_by.setdefault(later[0].step.step_id, []).append(text)
        if judged_by:
            notes = tuple(f"metric bounds are judged by gate {other}: {', '.join(texts)} (no "
                          "step before this gate measures them)"
                          for other, texts in judged_by.items())
            settings = gate.step.settings
            assert isinstance(settings, PolicySpec)
            deferred = DeferredBoundsPolicy.model_validate({
                **settings.model_dump(exclude_unset=True),
                "metrics": keep, "judged_later": notes})
            changed[gate.step.step_id] = replace(gate.step, kind=MetricsAwareGate,
                                                 settings=deferred)
    return [[changed.get(step.step_id, step) for step in stage] for stage in stages]
