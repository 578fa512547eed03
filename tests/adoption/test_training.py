"""Training on a team's own project: an id column, no held-out file, the project's own
interpreter and training script, metric bounds placed where they can be judged.

Every project is built by code here: a CSV with an ``id`` column, a scikit-learn builder, a
training script that speaks the JSON-lines protocol and writes ``metrics.json``.
"""

from __future__ import annotations

import csv
import json
import random
import sys
from pathlib import Path

import pytest

from secpipe.cli.main import main
from secpipe.core.errors import ConfigError
from secpipe.pipeline.config import load_project
from secpipe.pipeline.runner import plan
from secpipe.runstore import RunStore
from secpipe.runstore.records import RunRecord

VENV = Path(sys.executable).parent.parent  # a folder: ``python:`` finds its bin/python

BUILDER = """
from sklearn.linear_model import LogisticRegression


def build(seed=0):
    return LogisticRegression(random_state=seed)
"""

# Command mode: progress as JSON lines on stdout, a model file and metrics.json in {outdir};
# `final` holds the script's own held-out scores.
TRAIN_SCRIPT = """
import json, struct, sys
out, seed = sys.argv[1], int(sys.argv[2])
for epoch in (1, 2, 3):
    print(json.dumps({"event": "progress", "done": epoch, "total": 3, "what": f"epoch {epoch}"}),
          flush=True)
print("plain lines become log lines", flush=True)
header = b'{"__metadata__": {"format": "pt"}}'
with open(f"{out}/model.safetensors", "wb") as fh:
    fh.write(struct.pack("<Q", len(header)) + header)
json.dump({"version": 1, "framework": "tiny 1.0", "seed": seed,
           "epochs": [{"epoch": e, "metrics": {"val_accuracy": 0.8 + e / 100}} for e in (1, 2, 3)],
           "final": {"accuracy": 0.91, "f1_macro": 0.9, "loss": 0.2}},
          open(f"{out}/metrics.json", "w"))
"""


def _table(path: Path, rows: int = 100) -> None:
    """``id,x1,x2,label``: two separable classes, half each; ``id`` would leak if used."""
    rng = random.Random(3)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "x1", "x2", "label"])
        for i in range(rows):
            label = "attack" if i % 2 else "ok"
            centre = 2.0 if label == "attack" else -2.0
            writer.writerow([1000 + i, round(centre + rng.gauss(0, 0.7), 3),
                             round(-centre + rng.gauss(0, 0.7), 3), label])


def _project(root: Path, config: str, **files: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    (root / "secpipe.yaml").write_text(config, encoding="utf-8")
    return root


def _latest(root: Path) -> RunRecord:
    store = RunStore(root / ".secpipe" / "runs.db")
    return store.get_run(store.latest_run_id() or "")


ESTIMATOR_CONFIG = """
version: 1
policy: {metrics: ["accuracy >= 0.8"]}
pipelines:
  p:
    stages:
      - name: train
        steps:
          - uses: train
            with: {estimator: model.py:build, data: data/table.csv, exclude: [id], holdout: 0.2,
                   folds: 3, seed: 5PYTHON}
      - {name: evaluate, steps: [{uses: evaluate}]}
      - {name: model-gate, steps: [{uses: gate, id: model-gate}]}
"""


@pytest.mark.parametrize("python", [None, str(VENV)], ids=["secpipe-python", "project-venv"])
def test_estimator_mode_excludes_an_id_and_holds_out_a_seeded_stratified_split(
        tmp_path: Path, python: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    config = ESTIMATOR_CONFIG.replace("PYTHON", f", python: {python}" if python else "")
    root = _project(tmp_path / "proj", config, **{"model.py": BUILDER})
    _table(root / "data" / "table.csv")
    assert main(["run", "p", "-C", str(root), "-q"]) == 0, capsys.readouterr()
    run = _latest(root)
    train = next(s for s in run.steps if s.kind == "train")
    evaluate = next(s for s in run.steps if s.kind == "evaluate")
    record = json.loads(Path(next(a.path for a in train.artifacts
                                  if a.name == "training-record")).read_text())
    assert record["data"][0]["features"] == ["x1", "x2"]  # every column but label and id
    assert train.metrics["train_rows"] == 80 and train.metrics["holdout_rows"] == 20
    held = Path(record["holdout"]["file"])
    with held.open(newline="", encoding="utf-8") as fh:
        labels = [row["label"] for row in csv.DictReader(fh)]
    assert sorted(labels) == ["attack"] * 10 + ["ok"] * 10  # stratified: 20% of each class
    assert record["holdout"]["seed"] == 5 and record["holdout"]["fraction"] == 0.2
    if python:
        assert record["python"] == str(VENV / "bin" / "python")
    assert evaluate.metrics["accuracy"] >= 0.8 and "f1_macro" in evaluate.metrics
    evaluation = json.loads(Path(next(a.path for a in evaluate.artifacts
                                      if a.name == "evaluation")).read_text())
    assert evaluation["holdout"]["path"] == "data/table.csv#holdout"
    assert evaluation["holdout"]["rows"] == 20
    gate = next(s for s in run.steps if s.step_id == "model-gate").gate
    assert gate is not None and gate.passed
    capsys.readouterr()

    assert main(["run", "p", "-C", str(root), "-q"]) == 0  # the same seed, the same split
    again = next(s for s in _latest(root).steps if s.kind == "train")
    digest = json.loads(Path(next(a.path for a in again.artifacts
                                  if a.name == "training-record")).read_text())["holdout"]
    assert digest["sha256"] == record["holdout"]["sha256"]


COMMAND_CONFIG = """
version: 1
policy: {metrics: ["accuracy >= 0.8"]}
pipelines:
  p:
    stages:
      - {name: security-scan, steps: [{uses: scan-secrets, id: secrets}]}
      - {name: scan-gate, steps: [{uses: gate, id: scan-gate}]}
      - name: train
        steps:
          - uses: train
            with: {command: ["{python}", "train.py", "{outdir}", "{seed}"], python: VENV}
      - {name: model-gate, steps: [{uses: gate, id: model-gate}]}
"""


def test_command_mode_reports_accuracy_and_the_scan_gate_leaves_it_to_the_model_gate(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "proj", COMMAND_CONFIG.replace("VENV", str(VENV)),
                    **{"train.py": TRAIN_SCRIPT})
    assert main(["run", "p", "-C", str(root), "-q"]) == 0, capsys.readouterr()
    run = _latest(root)
    train = next(s for s in run.steps if s.kind == "train")
    assert train.metrics["accuracy"] == 0.91 and train.metrics["f1_macro"] == 0.9
    assert train.metrics["final_accuracy"] == 0.91  # the prefixed name stays
    assert "loss" not in train.metrics  # only held-out score names are copied bare
    scan_gate = next(s for s in run.steps if s.step_id == "scan-gate").gate
    assert scan_gate is not None and scan_gate.passed
    assert not any("accuracy" in r for r in scan_gate.reasons)
    assert any("judged by gate model-gate: accuracy >= 0.8" in n for n in scan_gate.notes)
    model_gate = next(s for s in run.steps if s.step_id == "model-gate").gate
    assert model_gate is not None and model_gate.passed
    assert any("metric accuracy = 0.91" in n for n in model_gate.notes)


def test_a_failing_command_names_the_interpreter_not_the_placeholder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = COMMAND_CONFIG.replace("VENV", str(VENV)).replace("train.py", "missing.py")
    root = _project(tmp_path / "proj", config)
    assert main(["run", "p", "-C", str(root), "-q"]) == 2
    train = next(s for s in _latest(root).steps if s.kind == "train")
    assert "{python}" not in train.message
    assert f"training command {str(VENV / 'bin' / 'python')!r} failed" in train.message


SCAN_ONLY = """
version: 1
policy: {metrics: ["accuracy >= 0.8"]}
pipelines:
  scans:
    stages:
      - {name: security-scan, steps: [{uses: scan-secrets}]}
      - {name: gate, steps: [{uses: gate}]}
"""


def test_a_scan_only_pipeline_under_a_metric_policy_fails_at_plan_naming_the_metric(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "proj", SCAN_ONLY)
    project = load_project(root)
    with pytest.raises(ConfigError) as err:
        plan(project, "scans", project.pipeline("scans"))
    assert "accuracy" in err.value.message and "evaluate, train" in err.value.message
    assert main(["run", "scans", "-C", str(root), "-q"]) == 2
    assert "no step of the pipeline can produce accuracy" in capsys.readouterr().err
    assert not (root / ".secpipe" / "runs.db").exists() or \
        RunStore(root / ".secpipe" / "runs.db").latest_run_id() is None  # nothing ran


def test_python_that_is_not_an_interpreter_is_an_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = COMMAND_CONFIG.replace("VENV", "no-such-venv")
    root = _project(tmp_path / "proj", config, **{"train.py": TRAIN_SCRIPT})
    (root / "no-such-venv").mkdir()
    assert main(["run", "p", "-C", str(root), "-q"]) == 2
    train = next(s for s in _latest(root).steps if s.kind == "train")
    assert "python: no-such-venv is a folder without bin/python" in train.message
