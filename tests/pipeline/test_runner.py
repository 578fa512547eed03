"""The runner: stage order, concurrency, timeouts, fail-closed errors, incremental recording."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from recording import EventList
from secpipe.core import registry
from secpipe.core.findings import Finding, Location, Severity
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind, StepSettings
from secpipe.pipeline.config import load_project
from secpipe.pipeline.runner import Runner
from secpipe.runstore import RunStore


class _Settings(StepSettings):
    sleep: float = 0.0
    findings: int = 0
    severity: str = "high"
    crash: bool = False
    metric: float | None = None
    barrier: bool = False


_BARRIER = threading.Barrier(2, timeout=5)


class FakeStep(StepKind):
    kind = "t-fake"
    summary = "test step"
    Settings = _Settings
    produces_metrics = ("accuracy",)

    def run(self, ctx: StepContext, settings: Any) -> StepResult:
        if settings.barrier:
            _BARRIER.wait()  # both steps of the stage must be running at once
        deadline = time.monotonic() + settings.sleep
        while time.monotonic() < deadline:
            if ctx.cancel.is_set():
                break
            time.sleep(0.01)
        if settings.crash:
            raise RuntimeError("boom")
        findings = tuple(
            Finding.create(rule_id="t.rule", title="t", severity=Severity(settings.severity),
                           scanner=self.kind, location=Location(path=f"f{i}.txt", line=1),
                           message="found")
            for i in range(settings.findings)
        )
        metrics = {"accuracy": settings.metric} if settings.metric is not None else {}
        return StepResult(findings=findings, metrics=metrics, message="done")


@pytest.fixture(autouse=True)
def _fake_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN_STEPS, "t-fake", (__name__, "FakeStep"))


def _run(project: Path, yaml_text: str, name: str = "p") -> tuple[Any, RunStore, list[Any]]:
    (project / "secpipe.yaml").write_text(yaml_text)
    p = load_project(project)
    store = RunStore(p.state_dir / "runs.db")
    events = EventList()
    outcome = Runner(p, store, events).run(name)
    return outcome, store, events


def test_gate_fails_on_findings_exit_1(project: Path) -> None:
    outcome, store, events = _run(project, """
pipelines:
  p:
    stages:
      - {name: scan, steps: [{uses: t-fake, with: {findings: 2}}]}
      - {name: gate, steps: [{uses: gate}]}
""")
    assert outcome.exit_code == 1 and outcome.status == "failed"
    run = store.get_run(outcome.run_id)
    gate = run.gates[0].gate
    assert gate is not None and not gate.passed
    assert "2 finding(s) at high or worse" in gate.reasons[0]
    assert len(run.findings) == 2
    assert events[0].type == "run.started"
    assert events[-1].type == "run.finished"


def test_passes_when_clean(project: Path) -> None:
    outcome, store, _ = _run(project, """
policy: {metrics: ["accuracy >= 0.8"]}
pipelines:
  p:
    stages:
      - {name: scan, steps: [{uses: t-fake, with: {findings: 1, severity: low, metric: 0.9}}]}
      - {name: gate, steps: [{uses: gate}]}
""")
    assert outcome.exit_code == 0
    run = store.get_run(outcome.run_id)
    assert run.steps[0].metrics == {"accuracy": 0.9}
    assert run.gates[0].gate is not None and run.gates[0].gate.passed


def test_steps_of_a_stage_run_concurrently(project: Path) -> None:
    outcome, _, _ = _run(project, """
pipelines:
  p:
    stages:
      - name: scan
        steps:
          - {uses: t-fake, id: a, with: {barrier: true}}
          - {uses: t-fake, id: b, with: {barrier: true}}
""")
    assert outcome.exit_code == 0  # the barrier would time out (crash) if they ran one by one


def test_timeout_fails_stage_closed_and_skips_the_rest(project: Path) -> None:
    started = time.monotonic()
    outcome, store, _ = _run(project, """
pipelines:
  p:
    stages:
      - {name: scan, steps: [{uses: t-fake, id: slow, timeout: 0.3, with: {sleep: 30}},
                             {uses: t-fake, id: quick, with: {findings: 1}}]}
      - {name: gate, steps: [{uses: gate}]}
""")
    assert time.monotonic() - started < 10
    assert outcome.exit_code == 2
    run = store.get_run(outcome.run_id)
    slow = next(s for s in run.steps if s.step_id == "slow")
    assert slow.status is StepStatus.ERROR and "timed out after 0.3 s" in slow.message
    quick = next(s for s in run.steps if s.step_id == "quick")
    assert len(quick.findings) == 1  # what finished is kept
    assert [s.status for s in run.stages] == [StepStatus.ERROR, StepStatus.SKIPPED]
    assert all(s.kind != "gate" for s in run.steps)


def test_crash_is_an_error_never_clean(project: Path) -> None:
    outcome, store, _ = _run(project, """
pipelines:
  p:
    stages:
      - {name: scan, steps: [{uses: t-fake, with: {crash: true}}]}
      - {name: gate, steps: [{uses: gate}]}
""")
    assert outcome.exit_code == 2
    step = store.get_run(outcome.run_id).steps[0]
    assert step.status is StepStatus.ERROR
    assert "crashed: RuntimeError: boom" in step.message


def test_run_interrupted_midway_keeps_earlier_stages(project: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    original = Runner._run_stage

    def interrupt_second(self: Runner, *args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(Runner, "_run_stage", interrupt_second)
    outcome, store, _ = _run(project, """
pipelines:
  p:
    stages:
      - {name: one, steps: [{uses: t-fake, with: {findings: 1}}]}
      - {name: two, steps: [{uses: t-fake, id: second}]}
""")
    assert outcome.exit_code == 130 and outcome.status == "interrupted"
    run = store.get_run(outcome.run_id)
    assert run.status == "interrupted" and len(run.findings) == 1


def test_builtin_pipelines_only_hold_available_kinds(project: Path) -> None:
    p = load_project(project)
    available = set(registry.available_kinds())
    for name in ("mlsecops", "devsecops"):
        spec = p.pipeline(name)
        kinds = {s.uses for st in spec.stages for s in st.steps}
        assert kinds <= available
        assert spec.stages[-1].steps  # never an empty stage


def test_image_signing_waits_for_an_image_build_step(project: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    p = load_project(project)
    monkeypatch.setitem(registry.BUILTIN_STEPS, "build-image", (__name__, "FakeStep"))
    ids = {s.id for st in p.pipeline("devsecops").stages for s in st.steps}
    assert {"image", "sign-image", "store-image"} <= ids
