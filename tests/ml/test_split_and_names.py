"""Held-out split, excluded columns, the ``python:`` setting and the metric names declared."""

from __future__ import annotations

import csv
import os
import sys
from collections import Counter
from pathlib import Path

import pytest
from pydantic import ValidationError

from secpipe.core.errors import InputError
from secpipe.ml.data import load_table, split_file, stratified_holdout
from secpipe.ml.evaluate_step import EvaluateStep
from secpipe.ml.interpreter import resolve_python, worker_argv
from secpipe.ml.names import is_heldout
from secpipe.ml.settings import TrainSettings
from secpipe.ml.train_step import TrainStep


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_stratified_holdout_is_seeded_and_keeps_every_class_in_training() -> None:
    labels = ["a"] * 50 + ["b"] * 30 + ["c"] * 2 + ["d"]
    held = stratified_holdout(labels, 0.2, seed=1)
    counts = Counter(labels[i] for i in held)
    assert counts == {"a": 10, "b": 6, "c": 1}  # "d" has one row: it stays in training
    assert held == stratified_holdout(labels, 0.2, seed=1)
    assert held != stratified_holdout(labels, 0.2, seed=2)


def test_split_file_writes_both_parts_with_the_header(tmp_path: Path) -> None:
    rows = [["id", "text", "label"]] + [[str(i), f"t,{i}", "x" if i % 4 else "y"]
                                        for i in range(40)]
    source = _csv(tmp_path / "d.csv", rows)
    train, held = tmp_path / "train.csv", tmp_path / "held.csv"
    assert split_file(source, "d.csv", "label", 0.25, 0, 1 << 20, train, held) == (30, 10)
    with train.open(newline="") as a, held.open(newline="") as b:
        parts = list(csv.reader(a)), list(csv.reader(b))
    assert parts[0][0] == parts[1][0] == rows[0]
    assert sorted(parts[0][1:] + parts[1][1:]) == sorted(rows[1:])  # fields kept, commas too
    with pytest.raises(InputError, match="label column 'nope' does not exist"):
        split_file(source, "d.csv", "nope", 0.25, 0, 1 << 20, train, held)


def test_exclude_drops_columns_from_the_default_features(tmp_path: Path) -> None:
    path = _csv(tmp_path / "t.csv", [["id", "a", "b", "label"], ["1", "0.5", "2", "x"],
                                     ["2", "0.1", "3", "y"]])
    assert load_table(path, "t.csv", "label", None, exclude=["id"]).features == ("a", "b")
    assert load_table(path, "t.csv", "label", None).features == ("id", "a", "b")
    with pytest.raises(InputError, match="excluded column 'ID' does not exist"):
        load_table(path, "t.csv", "label", None, exclude=["ID"])


@pytest.mark.parametrize(("settings", "message"), [
    ({"command": ["x"], "holdout": 0.2}, "'holdout' needs 'data'"),
    ({"estimator": "m.py:f", "data": "d.csv", "features": ["a"], "exclude": ["b"]},
     "set 'features' or 'exclude'"),
    ({"estimator": "m.py:f", "data": "d.csv", "holdout": 1.0}, "less than 1"),
])
def test_settings_refuse(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TrainSettings.model_validate(settings)


def test_resolve_python_takes_a_venv_folder_or_a_file(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    assert resolve_python(tmp_path, "venv") == str(python)
    assert resolve_python(tmp_path, str(python)) == str(python)
    assert resolve_python(tmp_path, None) is None
    python.chmod(0o644)
    if os.geteuid() != 0:  # root may execute anything
        with pytest.raises(InputError, match="not an executable interpreter"):
            resolve_python(tmp_path, "venv/bin/python")
    with pytest.raises(InputError, match="folder without bin/python"):
        resolve_python(tmp_path, ".")


def test_worker_argv_under_a_project_python_puts_only_secpipe_on_its_path(tmp_path: Path) -> None:
    assert worker_argv(None, tmp_path, "train", "s.json")[:4] == [sys.executable, "-I", "-m",
                                                                  "secpipe.ml.worker"]
    argv = worker_argv("/p/python", tmp_path, "train", "s.json")
    assert argv[:3] == ["/p/python", "-I", "-c"] and argv[-2:] == ["train", "s.json"]
    shim = Path(argv[4])
    assert [p.name for p in shim.iterdir()] == ["secpipe"]
    assert (shim / "secpipe" / "ml" / "worker.py").is_file()
    assert worker_argv("/p/python", tmp_path, "x")[4] == argv[4]  # reused


def test_declared_metric_names_cover_what_the_steps_emit() -> None:
    for name in ("accuracy", "f1_macro", "precision_attack", "roc_auc_ovr", "ece", "log_loss"):
        assert is_heldout(name)
    for name in ("loss", "cv_accuracy_mean", "final_accuracy", "robust_case_accuracy_drop"):
        assert not is_heldout(name)
    train, evaluate = TrainStep.produces_metrics, EvaluateStep.produces_metrics
    assert {"cv_*", "fold_*", "final_*", "accuracy"} <= set(train)
    assert {"*_drop_vs_last", "robust_*", "accuracy"} <= set(evaluate)
