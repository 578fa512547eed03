"""The ``train`` step: real small scikit-learn runs in a subprocess, and every bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from ml_samples import write_csv
from pydantic import ValidationError

from secpipe.core.results import StepStatus
from secpipe.ml.formats import detect_format
from secpipe.ml.settings import TrainSettings
from secpipe.ml.train_step import TrainStep

ESTIMATOR = {"estimator": "model.py:build_estimator", "data": "data/requests.csv",
             "target": "label", "features": ["payload"]}


def train(ctx: Any, **settings: Any) -> Any:
    return TrainStep().run(ctx, TrainSettings.model_validate(settings))


def test_kfold_with_early_stopping_records_folds_epochs_and_stop(ctx_factory: Any) -> None:
    ctx = ctx_factory("train")
    result = train(ctx, **ESTIMATOR, folds=5, early_stopping={
        "monitor": "f1_macro", "patience": 2, "min_delta": 0.001, "max_epochs": 30})
    assert result.status is StepStatus.PASSED, result.message
    m = result.metrics
    assert {f"fold_{i}_accuracy" for i in range(1, 6)} <= set(m)
    assert m["cv_folds"] == 5 and 0.8 <= m["cv_accuracy_mean"] <= 1.0
    assert "cv_accuracy_std" in m and "cv_f1_macro_mean" in m
    for i in range(1, 6):  # early stopping stopped every fold before max_epochs and says where
        stopped, best = m[f"fold_{i}_stopped_epoch"], m[f"fold_{i}_best_epoch"]
        assert 1 <= best <= stopped < 30
        assert f"fold_{i}_epoch_1_val_f1_macro" in m
        assert f"fold_{i}_epoch_{int(stopped)}_val_f1_macro" in m
    assert m["final_epochs"] >= 1
    assert "early stop at epochs" in result.message
    names = {a.name: a for a in result.artifacts}
    assert detect_format(Path(names["model"].path)) == "skops"
    record = json.loads(Path(names["training-record"].path).read_text())
    assert record["status"] == "passed" and record["seed"] == 0
    assert record["data"][0]["sha256"] == names["data:data/requests.csv"].digest[7:]
    assert record["data"][0]["rows"] == 240
    assert "scikit-learn" in record["libraries"]
    assert record["model"]["digest"] == names["model"].digest
    assert any("fold 1 epoch 1" in what for _, _, what in ctx.events)  # forwarded progress


def test_plain_fit_is_deterministic_for_a_seed(ctx_factory: Any) -> None:
    first = train(ctx_factory("train", run_id="a"), **ESTIMATOR, folds=3, seed=7)
    second = train(ctx_factory("train", run_id="b"), **ESTIMATOR, folds=3, seed=7)
    assert first.status is StepStatus.PASSED, first.message
    assert "fold_1_stopped_epoch" not in first.metrics
    assert first.metrics["cv_accuracy_mean"] == second.metrics["cv_accuracy_mean"]
    assert first.metrics["seed"] == 7


def test_pickle_format_is_saved_on_request_and_flagged(ctx_factory: Any) -> None:
    result = train(ctx_factory("train"), **ESTIMATOR, folds=2, format="pickle")
    assert result.status is StepStatus.PASSED, result.message
    model = next(a for a in result.artifacts if a.name == "model")
    assert model.path.endswith("model.pkl")
    assert [f.rule_id for f in result.findings] == ["ml.unsafe-model-format"]
    assert "model scan's findings apply" in result.message


def test_missing_label_column_is_an_error_naming_it(ctx_factory: Any) -> None:
    result = train(ctx_factory("train"), **{**ESTIMATOR, "target": "verdict"})
    assert result.status is StepStatus.ERROR
    assert "label column 'verdict' does not exist" in result.message
    assert "\n" not in result.message
    record = next(a for a in result.artifacts if a.name == "training-record")
    assert json.loads(Path(record.path).read_text())["status"] == "error"  # kept


def test_missing_and_malformed_data(ctx_factory: Any, ml_project: Path) -> None:
    gone = train(ctx_factory("train"), **{**ESTIMATOR, "data": "data/nope.csv"})
    assert gone.status is StepStatus.ERROR and "data/nope.csv does not exist" in gone.message
    (ml_project / "data" / "bad.csv").write_text('payload,label\n"unterminated,sqli\n')
    bad = train(ctx_factory("train"), **{**ESTIMATOR, "data": "data/bad.csv"})
    assert bad.status is StepStatus.ERROR and "malformed CSV" in bad.message
    (ml_project / "data" / "ragged.csv").write_text("payload,label\na,b,c\n")
    ragged = train(ctx_factory("train"), **{**ESTIMATOR, "data": "data/ragged.csv"})
    assert ragged.status is StepStatus.ERROR and "line 2: 3 fields" in ragged.message
    outside = train(ctx_factory("train"), **{**ESTIMATOR, "data": "../x.csv"})
    assert outside.status is StepStatus.ERROR and "outside the project" in outside.message


def test_too_few_rows_for_the_folds(ctx_factory: Any, ml_project: Path) -> None:
    write_csv(ml_project / "data" / "tiny.csv", [("a", "x"), ("b", "y"), ("c", "x"), ("d", "y")])
    result = train(ctx_factory("train"), **{**ESTIMATOR, "data": "data/tiny.csv"})
    assert result.status is StepStatus.ERROR and "fewer than folds=5" in result.message


def test_crashing_estimator_builder(ctx_factory: Any, ml_project: Path) -> None:
    (ml_project / "broken.py").write_text("def build_estimator(seed=0):\n    raise "
                                          "RuntimeError('no GPU here')\n")
    result = train(ctx_factory("train"), **{**ESTIMATOR, "estimator": "broken.py:build_estimator"})
    assert result.status is StepStatus.ERROR
    assert "RuntimeError: no GPU here" in result.message
    assert any(a.name == "training-log" for a in result.artifacts)


# -- command mode ------------------------------------------------------------------------------
GOOD_SCRIPT = '''
import json, sys
out = sys.argv[1]
open(out + "/model.safetensors", "wb").write(
    (12).to_bytes(8, "little") + b'{"a": "b"}  ')
json.dump({"version": 1, "framework": "toy 1.0", "seed": int(sys.argv[2]),
           "epochs": [{"epoch": e, "fold": 1, "metrics": {"val_accuracy": 0.5 + e / 10}}
                      for e in (1, 2, 3)],
           "folds": [{"fold": 1, "metrics": {"accuracy": 0.8}, "stopped_epoch": 3,
                      "best_epoch": 3},
                     {"fold": 2, "metrics": {"accuracy": 0.9}}],
           "final": {"accuracy": 0.91}}, open(out + "/metrics.json", "w"))
print(json.dumps({"event": "progress", "done": 1, "total": 1, "what": "toy epoch"}))
'''


def command(script: str) -> list[str]:
    return [sys.executable, script, "{outdir}", "{seed}"]


def test_command_mode_reads_the_metrics_file(ctx_factory: Any, ml_project: Path) -> None:
    (ml_project / "train_toy.py").write_text(GOOD_SCRIPT)
    ctx = ctx_factory("train")
    result = train(ctx, command=command("train_toy.py"), seed=3)
    assert result.status is StepStatus.PASSED, result.message
    m = result.metrics
    assert m["cv_accuracy_mean"] == pytest.approx(0.85) and m["fold_2_accuracy"] == 0.9
    assert m["fold_1_epoch_3_val_accuracy"] == pytest.approx(0.8)
    assert m["final_accuracy"] == 0.91 and m["seed"] == 3
    assert next(a for a in result.artifacts if a.name == "model").path.endswith(".safetensors")
    assert not result.findings
    assert (1, 1, "toy epoch") in ctx.events


@pytest.mark.parametrize(("metrics", "named"), [
    ({"version": 1, "final": {"accuracy": 1.7}}, "final: metric accuracy = 1.7 is outside [0, 1]"),
    ({"version": 1, "final": {}, "accuarcy": 0.9}, "accuarcy: unknown key"),
    ({"version": 2}, "version:"),
    ({"version": 1, "folds": [{"fold": 1, "metrics": {"accuracy": "high"}}]},
     "folds[0].metrics.accuracy:"),
    ({"version": 1, "epochs": [{"epoch": 1, "fold": 4, "metrics": {}}]},
     "fold 4 is not in 'folds'"),
])
def test_a_metrics_file_outside_the_schema_is_an_error_naming_the_key(
        ctx_factory: Any, ml_project: Path, metrics: dict[str, Any], named: str) -> None:
    (ml_project / "liar.py").write_text(
        "import json, sys\nopen(sys.argv[1] + '/model.onnx', 'wb').write(b'x')\n"
        f"json.dump({metrics!r}, open(sys.argv[1] + '/metrics.json', 'w'))\n")
    result = train(ctx_factory("train"), command=command("liar.py"))
    assert result.status is StepStatus.ERROR
    assert result.message.startswith("metrics.json: ")
    assert named in result.message, result.message


def test_command_that_crashes(ctx_factory: Any, ml_project: Path) -> None:
    (ml_project / "crash.py").write_text("import sys\nsys.exit('out of memory in epoch 3')\n")
    result = train(ctx_factory("train"), command=command("crash.py"))
    assert result.status is StepStatus.ERROR
    assert result.message == ("training command " + repr(sys.executable) +
                              " failed (exit code 1): out of memory in epoch 3")


def test_command_that_hangs_is_killed_at_the_timeout(ctx_factory: Any, ml_project: Path) -> None:
    (ml_project / "hang.py").write_text("import time\nprint('started', flush=True)\n"
                                        "time.sleep(600)\n")
    ctx = ctx_factory("train")
    result = train(ctx, command=command("hang.py"), timeout=3.0)
    assert result.status is StepStatus.ERROR
    assert "timed out after 3 s (it was killed)" in result.message
    assert "started" in ctx.logs
    assert any(a.name == "training-record" for a in result.artifacts)


def test_command_without_a_model(ctx_factory: Any, ml_project: Path) -> None:
    (ml_project / "nomodel.py").write_text(
        "import json, sys\njson.dump({'version': 1}, open(sys.argv[1] + '/metrics.json', 'w'))\n")
    result = train(ctx_factory("train"), command=command("nomodel.py"))
    assert result.status is StepStatus.ERROR and "exactly one model.* file" in result.message


def test_no_training_configured_is_skipped() -> None:
    settings = TrainSettings.model_validate({})
    assert not settings.configured()


@pytest.mark.parametrize(("settings", "message"), [
    ({"estimator": "model.build_estimator", "data": "d.csv"}, "file.py:function"),
    ({"estimator": "model.py:build", "command": ["x"]}, "only one of"),
    ({"estimator": "model.py:build"}, "needs 'data'"),
    ({"command": []}, "non-empty"),
    ({"command": ["x"], "early_stopping": {"patience": 0}}, "early_stopping.patience"),
])
def test_settings_errors(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        TrainSettings.model_validate(settings)


def test_early_stopping_on_an_estimator_without_partial_fit_says_so(
        ctx_factory: Any, ml_project: Path) -> None:
    (ml_project / "lr.py").write_text(
        "from sklearn.feature_extraction.text import CountVectorizer\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from sklearn.pipeline import make_pipeline\n"
        "def build():\n    return make_pipeline(CountVectorizer(analyzer='char'), "
        "LogisticRegression())\n")
    ctx = ctx_factory("train")
    result = train(ctx, **{**ESTIMATOR, "estimator": "lr.py:build"}, folds=2,
                   early_stopping={"monitor": "accuracy"})
    assert result.status is StepStatus.PASSED, result.message
    assert "fold_1_stopped_epoch" not in result.metrics
    assert any("early stopping not applied" in line for line in ctx.logs)


def test_command_that_does_not_exist(ctx_factory: Any) -> None:
    result = train(ctx_factory("train"), command=["secpipe-no-such-trainer-xyz"])
    assert result.status is StepStatus.ERROR
    assert "could not start: cannot start 'secpipe-no-such-trainer-xyz'" in result.message


def test_a_cancelled_run_kills_the_training(ctx_factory: Any, ml_project: Path) -> None:
    import threading
    import time

    (ml_project / "hang.py").write_text("import time\ntime.sleep(600)\n")
    ctx = ctx_factory("train")
    threading.Timer(0.5, ctx.cancel.set).start()
    started = time.monotonic()
    result = train(ctx, command=command("hang.py"))
    assert result.status is StepStatus.ERROR and result.message.endswith("was cancelled")
    assert time.monotonic() - started < 30


def test_child_output_is_redacted(ctx_factory: Any, ml_project: Path) -> None:
    token = "hf_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3h"
    (ml_project / "leak.py").write_text(f"print('HF_TOKEN={token}', flush=True)\n"
                                        f"raise SystemExit('bad token {token}')\n")
    ctx = ctx_factory("train")
    result = train(ctx, command=command("leak.py"))
    assert result.status is StepStatus.ERROR
    assert token not in result.message and "hf_a****" in result.message
    assert ctx.logs and all(token not in line for line in ctx.logs)
    log = next(a for a in result.artifacts if a.name == "training-log")
    assert token not in Path(log.path).read_text() and "bad token" in Path(log.path).read_text()
