"""A tiny pipeline end to end through the CLI: train, evaluate, gate on accuracy."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from ml_samples import make_rows, write_csv

from secpipe.cli.main import main
from secpipe.runstore import RunStore

CONFIG = """
version: 1
pipelines:
  p:
    stages:
      - name: train
        steps:
          - uses: train
            with:
              estimator: model.py:build_estimator
              data: data/requests.csv
              target: label
              features: [payload]
              folds: 5
              early_stopping: {monitor: accuracy, patience: 2, max_epochs: 20}
      - name: evaluate
        steps:
          - uses: evaluate
            with: {data: data/holdout.csv, robustness: {families: [case, url-encoding]}}
      - name: model-gate
        steps:
          - uses: gate
            with:
              metrics: ["accuracy >= 0.8", "accuracy_drop_vs_last <= 0.05"]
"""


def _run(root: Path) -> int:
    return main(["run", "p", "-C", str(root), "-q"])


def test_good_data_passes_and_shuffled_labels_fail_the_gate_naming_the_metric(
        ml_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (ml_project / "secpipe.yaml").write_text(CONFIG)
    assert _run(ml_project) == 0, capsys.readouterr()
    store = RunStore(ml_project / ".secpipe" / "runs.db")
    first = store.get_run(store.latest_run_id() or "")
    evaluate = next(s for s in first.steps if s.kind == "evaluate")
    assert evaluate.metrics["accuracy"] >= 0.8
    assert {a.name for a in evaluate.artifacts} >= {"model-card", "confusion-matrix"}
    train = next(s for s in first.steps if s.kind == "train")
    assert train.metrics["cv_folds"] == 5 and "fold_5_stopped_epoch" in train.metrics
    model = next(a for a in train.artifacts if a.name == "model")
    assert model.path.endswith("model.skops")
    capsys.readouterr()

    rows = make_rows(240, seed=1)
    labels = [r[1] for r in rows]
    random.Random(5).shuffle(labels)
    write_csv(ml_project / "data" / "requests.csv",
              [(r[0], label) for r, label in zip(rows, labels, strict=True)])
    assert _run(ml_project) == 1
    out = capsys.readouterr()
    assert "metric accuracy = " in out.out + out.err
    assert "needs >= 0.8" in out.out + out.err
    last = store.get_run(store.latest_run_id() or "")
    gate = next(s for s in last.steps if s.kind == "gate")
    assert gate.gate is not None and not gate.gate.passed
    assert any(r.startswith("metric accuracy = ") for r in gate.gate.reasons)
    assert any(r.startswith("metric accuracy_drop_vs_last = ") for r in gate.gate.reasons)
    store.close()


def test_a_training_error_stops_the_run_with_exit_2(ml_project: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (ml_project / "secpipe.yaml").write_text(CONFIG.replace("target: label", "target: verdict"))
    assert _run(ml_project) == 2
    store = RunStore(ml_project / ".secpipe" / "runs.db")
    run = store.get_run(store.latest_run_id() or "")
    train = next(s for s in run.steps if s.kind == "train")
    assert "label column 'verdict' does not exist" in train.message
    assert any(a.name == "training-record" for a in train.artifacts)  # kept
    store.close()
