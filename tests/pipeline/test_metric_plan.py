"""Metric bounds placed at plan time: judged where a step before the gate can produce them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from secpipe.core import registry
from secpipe.core.errors import ConfigError
from secpipe.core.results import StepResult
from secpipe.core.step import StepContext, StepKind, StepSettings
from secpipe.pipeline.config import load_project
from secpipe.pipeline.metric_plan import DeferredBoundsPolicy, MetricsAwareGate
from secpipe.pipeline.runner import PlannedStep, plan
from secpipe.policy.gate import GateStep
from secpipe.policy.model import PolicySpec


class Producer(StepKind[StepSettings]):
    kind = "t-producer"
    summary = "test step producing accuracy and f1_*"
    produces_metrics = ("accuracy", "f1_*")

    def run(self, ctx: StepContext, settings: StepSettings) -> StepResult:
        return StepResult(metrics={"accuracy": 0.9, "f1_macro": 0.8})


class Silent(StepKind[StepSettings]):
    kind = "t-silent"
    summary = "test step producing no metric"

    def run(self, ctx: StepContext, settings: StepSettings) -> StepResult:
        return StepResult()


@pytest.fixture(autouse=True)
def _kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN_STEPS, "t-producer", (__name__, "Producer"))
    monkeypatch.setitem(registry.BUILTIN_STEPS, "t-silent", (__name__, "Silent"))


def _plan(root: Path, yaml_text: str, name: str = "p") -> list[list[PlannedStep]]:
    (root / "secpipe.yaml").write_text(yaml_text, encoding="utf-8")
    project = load_project(root)
    return plan(project, name, project.pipeline(name))


def _step(stages: list[list[PlannedStep]], step_id: str) -> PlannedStep:
    return next(p for stage in stages for p in stage if p.step_id == step_id)


SCAN_THEN_TRAIN = """
policy: {metrics: ["accuracy >= 0.8", "f1_macro >= 0.7"]}
pipelines:
  p:
    stages:
      - {name: scan, steps: [{uses: t-silent, id: scan}]}
      - {name: scan-gate, steps: [{uses: gate, id: scan-gate}]}
      - {name: train, steps: [{uses: t-producer, id: prod}]}
      - {name: model-gate, steps: [{uses: gate, id: model-gate}]}
"""


def test_a_bound_no_step_can_produce_is_a_config_error_naming_metric_and_kinds(
        project: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _plan(project, """
policy: {metrics: ["accuracy >= 0.8"]}
pipelines:
  p:
    stages:
      - {name: scan, steps: [{uses: t-silent}]}
      - {name: gate, steps: [{uses: gate}]}
""")
    message = err.value.message
    assert "pipeline p: gate gate" in message and "accuracy" in message
    assert "train" in message and "evaluate" in message  # the kinds that could produce it
    assert "metrics: []" in (err.value.hint or "")


def test_a_gate_before_any_producer_leaves_the_bounds_to_the_later_gate(project: Path) -> None:
    stages = _plan(project, SCAN_THEN_TRAIN)
    early, late = _step(stages, "scan-gate"), _step(stages, "model-gate")
    assert early.kind is MetricsAwareGate and early.kind_name == "gate"
    assert isinstance(early.settings, DeferredBoundsPolicy)
    assert early.settings.metrics == []
    assert early.settings.judged_later == (
        "metric bounds are judged by gate model-gate: accuracy >= 0.8, f1_macro >= 0.7 (no step "
        "before this gate measures them)",)
    assert late.kind is GateStep  # judges the policy's bounds as before
    assert isinstance(late.settings, PolicySpec) and "metrics" not in late.settings.model_fields_set


def test_the_deferring_gate_judges_findings_but_not_bounds_and_notes_who_does(
        project: Path) -> None:
    stages = _plan(project, SCAN_THEN_TRAIN)
    early = _step(stages, "scan-gate")
    ctx = StepContext(project_root=project, workdir=project / "w",
                      policy=PolicySpec(metrics=["accuracy >= 0.8"]))
    result = early.kind().run(ctx, early.settings)
    assert result.gate is not None and result.gate.passed, result.gate
    assert any("judged by gate model-gate" in note for note in result.gate.notes)


def test_a_bound_set_on_a_gate_before_its_producer_and_judged_nowhere_is_an_error(
        project: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _plan(project, """
pipelines:
  p:
    stages:
      - {name: gate, steps: [{uses: gate, id: early, with: {metrics: ["accuracy >= 0.8"]}}]}
      - {name: train, steps: [{uses: t-producer, id: prod}]}
""")
    assert "gate early" in err.value.message and "prod (stage train)" in err.value.message
    assert "after stage train" in (err.value.hint or "")


def test_a_gate_that_sets_no_metrics_is_left_alone(project: Path) -> None:
    stages = _plan(project, """
policy: {metrics: ["accuracy >= 0.8"]}
pipelines:
  p:
    stages:
      - {name: scan, steps: [{uses: t-silent}]}
      - {name: scan-gate, steps: [{uses: gate, id: scan-gate, with: {metrics: []}}]}
""")
    assert _step(stages, "scan-gate").kind is GateStep


@pytest.mark.parametrize(("bound", "ok"), [("prod.accuracy >= 0.5", True),
                                           ("prod.f1_macro >= 0.5", True),
                                           ("scan.accuracy >= 0.5", False),
                                           ("prod.loss <= 0.5", False)])
def test_a_step_qualified_bound_asks_that_step(project: Path, bound: str, ok: bool) -> None:
    text = f"""
pipelines:
  p:
    stages:
      - {{name: scan, steps: [{{uses: t-silent, id: scan}}]}}
      - {{name: train, steps: [{{uses: t-producer, id: prod}}]}}
      - {{name: gate, steps: [{{uses: gate, with: {{metrics: ["{bound}"]}}}}]}}
"""
    if ok:
        assert _step(_plan(project, text), "gate").kind is GateStep
    else:
        with pytest.raises(ConfigError, match="no step of the pipeline can produce"):
            _plan(project, text)


def test_builtin_mlsecops_keeps_its_layout_under_a_metric_policy(project: Path) -> None:
    stages = _plan(project, 'policy: {metrics: ["accuracy >= 0.8"]}\n', name="mlsecops")
    gates = {p.step_id: p for stage in stages for p in stage if p.kind_name == "gate"}
    assert gates["scan-gate"].kind is GateStep  # its own `metrics: []` already
    assert gates["model-gate"].kind is GateStep


def test_the_note_survives_a_failing_gate(project: Path, monkeypatch: Any) -> None:
    stages = _plan(project, SCAN_THEN_TRAIN.replace("policy: {", "policy: {max: {high: 0}, "))
    early = _step(stages, "scan-gate")
    ctx = StepContext(project_root=project, workdir=project / "w")
    monkeypatch.setattr(StepContext, "errors_so_far", property(lambda self: ("scan: boom",)))
    result = early.kind().run(ctx, early.settings)
    assert result.gate is not None and not result.gate.passed
    assert any("judged by gate model-gate" in note for note in result.gate.notes)
