"""The ``evaluate`` step: metrics equal scikit-learn's, safe loading, robustness, plots, card."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io
from ml_samples import make_rows, write_csv
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from secpipe.core.findings import Finding, Location, Severity
from secpipe.core.results import FinishedStep, StepResult, StepStatus
from secpipe.ml.evaluate_step import EvaluateStep
from secpipe.ml.settings import EvaluateSettings, TrainSettings
from secpipe.ml.train_step import TrainStep
from secpipe.runstore import RunStore

TRAIN = {"estimator": "model.py:build_estimator", "data": "data/requests.csv", "folds": 3}


def trained(ctx_factory: Any, **extra: Any) -> StepResult:
    result = TrainStep().run(ctx_factory("train"), TrainSettings.model_validate({**TRAIN,
                                                                                 **extra}))
    assert result.status is StepStatus.PASSED, result.message
    return result


def evaluate(ctx: Any, **settings: Any) -> StepResult:
    return EvaluateStep().run(ctx, EvaluateSettings.model_validate(
        {"data": "data/holdout.csv", **settings}))


def test_metrics_equal_sklearns_own_on_the_same_predictions(ctx_factory: Any,
                                                            ml_project: Path) -> None:
    train = trained(ctx_factory)
    result = evaluate(ctx_factory("evaluate"))
    assert result.status is StepStatus.PASSED, result.message
    model = skops.io.load(next(a for a in train.artifacts if a.name == "model").path)
    rows = make_rows(90, seed=2)
    x, y = np.asarray([r[0] for r in rows], dtype=object), [r[1] for r in rows]
    pred, proba = model.predict(x), model.predict_proba(x)
    m = result.metrics
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["f1_macro"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert m["precision_macro"] == pytest.approx(precision_score(y, pred, average="macro",
                                                                 zero_division=0))
    assert m["recall_macro"] == pytest.approx(recall_score(y, pred, average="macro"))
    assert m["f1_sqli"] == pytest.approx(f1_score(y, pred, labels=["sqli"], average=None)[0])
    assert m["roc_auc_ovr"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr",
                                                           labels=list(model.classes_)))
    assert m["brier"] == pytest.approx(brier_score_loss(y, proba, labels=list(model.classes_)))
    assert m["log_loss"] == pytest.approx(log_loss(y, proba, labels=list(model.classes_)))
    assert 0.0 <= m["ece"] <= 1.0
    evaluation = json.loads(Path(next(a.path for a in result.artifacts
                                      if a.name == "evaluation")).read_text())
    assert evaluation["confusion_matrix"] == confusion_matrix(
        y, pred, labels=evaluation["labels"]).tolist()


def test_plots_are_standalone_svg_and_the_card_has_intervals_and_scans(
        ctx_factory: Any) -> None:
    trained(ctx_factory)
    ctx = ctx_factory("evaluate")
    leak = Finding.create(rule_id="secrets.hf-token", title="t", severity=Severity.HIGH,
                          scanner="scan-secrets", location=Location("nb.ipynb"), message="m")
    ctx.earlier = (*ctx.earlier, FinishedStep("scan", "scan-secrets", "scan",
                                              StepResult(findings=(leak,))))
    result = evaluate(ctx, intended_use="Flag attack payloads for review.")
    by_name = {a.name: a for a in result.artifacts}
    for name in ("confusion-matrix", "roc-curves"):
        assert by_name[name].media_type == "image/svg+xml"
        root = ET.fromstring(Path(by_name[name].path).read_text())  # noqa: S314 - our own output
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert not root.findall(".//{http://www.w3.org/2000/svg}script")
    svg = Path(by_name["confusion-matrix"].path).read_text()
    assert ">sqli<" in svg and ">xss<" in svg
    card = Path(by_name["model-card"].path).read_text()
    assert by_name["model-card"].media_type == "text/markdown"
    assert "Flag attack payloads for review." in card
    assert "95% confidence interval (t-distribution, 2 degrees of freedom)" in card
    assert "| scan-secrets | high | 1 |" in card
    assert "data/requests.csv" in card and "sha256" in card


def test_text_robustness_reports_a_drop_per_family(ctx_factory: Any) -> None:
    trained(ctx_factory)
    result = evaluate(ctx_factory("evaluate"),
                      robustness={"families": ["case", "url-encoding", "homoglyph"]})
    assert result.status is StepStatus.PASSED, result.message
    m = result.metrics
    for family in ("case", "url_encoding", "homoglyph"):
        assert m[f"robust_{family}_accuracy_drop"] == pytest.approx(
            m["accuracy"] - m[f"robust_{family}_accuracy"])
    assert "robust_whitespace_accuracy_drop" not in m
    assert "worst perturbation" in result.message


def test_tabular_robustness_uses_bounded_noise(ctx_factory: Any, tmp_path: Path) -> None:
    root = tmp_path / "tab"
    rng = np.random.default_rng(0)
    rows = [(f"{a:.3f}", f"{b:.3f}", "pos" if a + b > 0 else "neg")
            for a, b in rng.normal(size=(150, 2))]
    for name, part in (("train.csv", rows[:100]), ("test.csv", rows[100:])):
        (root / name).parent.mkdir(exist_ok=True)
        (root / name).write_text("a,b,y\n" + "".join(",".join(r) + "\n" for r in part))
    (root / "m.py").write_text("from sklearn.linear_model import LogisticRegression\n"
                               "def make():\n    return LogisticRegression()\n")
    result = TrainStep().run(ctx_factory("train", root=root), TrainSettings.model_validate(
        {"estimator": "m.py:make", "data": "train.csv", "target": "y", "folds": 3}))
    assert result.status is StepStatus.PASSED, result.message
    ev = EvaluateStep().run(ctx_factory("evaluate", root=root), EvaluateSettings.model_validate(
        {"data": "test.csv", "robustness": {"noise_scale": 0.5}}))
    assert ev.status is StepStatus.PASSED, ev.message
    assert "robust_gaussian_noise_accuracy_drop" in ev.metrics
    wrong = EvaluateStep().run(ctx_factory("evaluate", root=root), EvaluateSettings.model_validate(
        {"data": "test.csv", "robustness": {"families": ["homoglyph"]}}))
    assert wrong.status is StepStatus.ERROR
    assert "'homoglyph' does not apply to tabular input" in wrong.message


def test_drop_versus_the_last_passed_run(ctx_factory: Any, ml_project: Path) -> None:
    store = RunStore(ml_project / ".secpipe" / "runs.db")
    old = store.start_run("p", str(ml_project))
    store.record_step(old, 0, "evaluate", "evaluate", "evaluate", 0.0, 1.0,
                      StepResult(metrics={"accuracy": 1.0, "f1_macro": 1.0}))
    store.finish_run(old, "passed", 0)
    failed = store.start_run("p", str(ml_project))  # a later failed run is not the baseline
    store.record_step(failed, 0, "evaluate", "evaluate", "evaluate", 0.0, 1.0,
                      StepResult(metrics={"accuracy": 0.1}))
    store.finish_run(failed, "failed", 1)
    store.close()
    trained(ctx_factory)
    ctx = ctx_factory("evaluate", pipeline="p")
    ctx.history = RunStore(ml_project / ".secpipe" / "runs.db")  # what the runner passes
    try:
        result = evaluate(ctx)
    finally:
        ctx.history.close()
    m = result.metrics
    assert m["accuracy_drop_vs_last"] == pytest.approx(1.0 - m["accuracy"])
    assert m["f1_macro_drop_vs_last"] == pytest.approx(1.0 - m["f1_macro"])
    assert f"vs run {old}" in result.message


def test_first_run_has_zero_drop(ctx_factory: Any) -> None:
    trained(ctx_factory)
    result = evaluate(ctx_factory("evaluate", pipeline="p"))
    assert result.metrics["accuracy_drop_vs_last"] == 0.0
    assert "no earlier passed run" in result.message


def test_a_model_changed_after_training_is_refused(ctx_factory: Any) -> None:
    train = trained(ctx_factory)
    with open(next(a.path for a in train.artifacts if a.name == "model"), "ab") as fh:
        fh.write(b"\0")
    result = evaluate(ctx_factory("evaluate"))
    assert result.status is StepStatus.ERROR and "changed since training" in result.message


def test_pickle_needs_the_unsafe_opt_in(ctx_factory: Any) -> None:
    trained(ctx_factory, format="pickle")
    refused = evaluate(ctx_factory("evaluate"))
    assert refused.status is StepStatus.ERROR
    assert "loading it runs code" in refused.message
    allowed = evaluate(ctx_factory("evaluate"), unsafe_allow_pickle=True)
    assert allowed.status is StepStatus.PASSED, allowed.message
    assert allowed.metrics["accuracy"] > 0.8


CUSTOM = '''
from sklearn.base import BaseEstimator, TransformerMixin


class Lower(BaseEstimator, TransformerMixin):
    def fit(self, x, y=None):
        return self

    def transform(self, x):
        return [s.lower() for s in x]
'''


def test_untrusted_types_are_refused_unless_allow_listed(
        ctx_factory: Any, ml_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (ml_project / "custom_steps.py").write_text(CUSTOM)
    monkeypatch.syspath_prepend(str(ml_project))
    import custom_steps  # the test's own sample module, written above
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    rows = make_rows(60, seed=3)
    model = make_pipeline(custom_steps.Lower(), CountVectorizer(analyzer="char"),
                          LogisticRegression())
    model.fit([r[0] for r in rows], [r[1] for r in rows])
    skops.io.dump(model, ml_project / "custom.skops")
    sys.modules.pop("custom_steps")
    refused = evaluate(ctx_factory("evaluate"), model="custom.skops")
    assert refused.status is StepStatus.ERROR
    assert "types skops does not trust: custom_steps.Lower" in refused.message
    allowed = evaluate(ctx_factory("evaluate"), model="custom.skops",
                       trusted_types=["custom_steps.Lower"])
    assert allowed.status is StepStatus.PASSED, allowed.message  # loaded in a subprocess
    assert (ml_project / ".secpipe/runs/run1/evaluate/predict-spec.json").is_file()


def test_without_held_out_data_the_step_is_skipped(ctx_factory: Any) -> None:
    result = EvaluateStep().run(ctx_factory("evaluate"), EvaluateSettings())
    assert result.status is StepStatus.SKIPPED and "defaults.evaluate" in result.message


def test_no_training_record(ctx_factory: Any) -> None:
    result = evaluate(ctx_factory("evaluate"))
    assert result.status is StepStatus.ERROR and "did the train step run?" in result.message


def test_holdout_missing_label_column(ctx_factory: Any, ml_project: Path) -> None:
    trained(ctx_factory)
    write_csv(ml_project / "data" / "h2.csv", make_rows(9, seed=4), header=("payload", "kind"))
    result = evaluate(ctx_factory("evaluate"), data="data/h2.csv")
    assert result.status is StepStatus.ERROR
    assert "label column 'label' does not exist" in result.message


def test_a_holdout_the_model_cannot_read_is_an_error(ctx_factory: Any, tmp_path: Path) -> None:
    root = tmp_path / "tab"
    root.mkdir()
    rows = "".join(f"{i % 7},{(i * 3) % 5},{'a' if i % 2 else 'b'}\n" for i in range(30))
    (root / "train.csv").write_text("x1,x2,y\n" + rows)
    (root / "test.csv").write_text("x1,y\n" + "".join(f"{i},a\n" for i in range(5)))
    (root / "m.py").write_text("from sklearn.tree import DecisionTreeClassifier\n"
                               "def make():\n    return DecisionTreeClassifier()\n")
    trained_ = TrainStep().run(ctx_factory("train", root=root), TrainSettings.model_validate(
        {"estimator": "m.py:make", "data": "train.csv", "target": "y", "folds": 2}))
    assert trained_.status is StepStatus.PASSED, trained_.message
    settings = {"data": "test.csv", "features": ["x1"]}
    untrusted = EvaluateStep().run(ctx_factory("evaluate", root=root),
                                   EvaluateSettings.model_validate(settings))
    assert "does not trust: sklearn.tree._tree.Tree" in untrusted.message  # not by default
    result = EvaluateStep().run(ctx_factory("evaluate", root=root), EvaluateSettings.model_validate(
        {**settings, "trusted_types": ["sklearn.tree._tree.Tree"]}))
    assert result.status is StepStatus.ERROR
    assert result.message.startswith("model model.skops failed to predict on test.csv: ")
