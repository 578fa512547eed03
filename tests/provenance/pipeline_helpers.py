"""Fake upstream steps (train, scan-models) and a runner helper for the chain tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from recording import EventList
from secpipe.core import registry
from secpipe.core.artifacts import Artifact
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind, StepSettings
from secpipe.pipeline.config import load_project
from secpipe.pipeline.runner import Runner, RunOutcome
from secpipe.runstore import RunStore
from secpipe.runstore.records import RunRecord
from secpipe.scanners.base import ScannerSettings


class FakeTrain(StepKind):
    """Writes a model file into its workdir and records the training data it 'used'."""

    kind = "train"
    Settings = StepSettings

    def run(self, ctx: StepContext, settings: Any) -> StepResult:
        model = Path(ctx.workdir) / "model.skops"
        model.write_bytes(b"SKOPS" + bytes(range(256)) * 40)
        data = ctx.project_root / "data.csv"
        return StepResult(tool="fake-train 1.0", artifacts=(
            Artifact.from_file("model", model, "application/vnd.skops"),
            Artifact.from_file("data:data.csv", data, "text/csv")))


class FakeModelScan(StepKind):
    kind = "scan-models"
    Settings = ScannerSettings  # every scan-X kind is a scanner

    def run(self, ctx: StepContext, settings: Any) -> StepResult:
        return StepResult(status=StepStatus.PASSED, tool="fake-scan 2.0", message="no findings")


def use_fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN_STEPS, "train", (__name__, "FakeTrain"))
    monkeypatch.setitem(registry.BUILTIN_STEPS, "scan-models", (__name__, "FakeModelScan"))


def run_pipeline(project: Path, name: str) -> tuple[RunOutcome, RunRecord, list[Any]]:
    p = load_project(project)
    store = RunStore(p.state_dir / "runs.db")
    events = EventList()
    try:
        outcome = Runner(p, store, events).run(name)
        return outcome, store.get_run(outcome.run_id), events
    finally:
        store.close()


def step(record: RunRecord, step_id: str) -> Any:
    return next(s for s in record.steps if s.step_id == step_id)


PIPELINES = """
version: 1
defaults:
  store: {store}
  load: {load}
  sign: {sign}
pipelines:
  ml:
    stages:
      - {{name: train, steps: [{{uses: train}}]}}
      - {{name: model-scan, steps: [{{uses: scan-models, id: models}}]}}
      - {{name: model-gate, steps: [{{uses: gate, id: model-gate}}]}}
      - {{name: sign, steps: [{{uses: sign, id: sign-model}}]}}
      - {{name: store, steps: [{{uses: store, id: store-model}}]}}
  dev:
    stages:
      - name: load
        steps:
          - uses: load
            id: load-model
            with: {{run: latest, pipeline: ml, verify: true,
                    require: ["scan-models passed", "gates passed", "train ran"]}}
"""


def write_project(project: Path, store: str = "{}", load: str = "{}", sign: str = "{}") -> None:
    (project / "data.csv").write_text("payload,label\nabc,benign\n")
    (project / "secpipe.yaml").write_text(PIPELINES.format(store=store, load=load, sign=sign))
