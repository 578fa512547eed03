"""Overhead of secpipe's ``train`` step around plain scikit-learn on the example project.

    python benchmarks/train/bench_overhead.py [--runs 5] [--json out.json]

It copies examples/request-classifier into a temp folder, builds its data (seed 1337), and times,
after one warm-up each, the median of ``--runs`` runs of:

* ``cross_val_score``: ``cross_val_score(build_estimator(0), X, y, cv=StratifiedKFold(5,
  shuffle=True, random_state=0))`` in this (warm) process;
* ``cv + final fit + save``: the same plus the fit on all data and a ``pickle.dump`` of the model,
  which is the work a training job does and the train step does too;
* ``plain script``: that job as a fresh ``python`` process (reads the CSV, imports scikit-learn):
  what a CI training stage without secpipe costs; and the same script saving with skops instead
  of pickle (to separate the cost of the safe format from secpipe's own);
* ``secpipe train``: ``TrainStep().run`` with the example's settings (no early stopping, so the
  work equals the plain job): a ``python -I`` subprocess that imports scikit-learn, reads and
  digests the data, runs the same CV and final fit, saves with skops and writes the record;
* ``secpipe evaluate``: ``EvaluateStep().run`` on the holdout set (no robustness), for scale.

The overhead target (issue 4) is max(5 %, 1 s) over the plain job.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
EXAMPLE = HERE.parents[2] / "examples" / "request-classifier"

PLAIN_SCRIPT = """
import csv, pickle, sys
from pathlib import Path
import numpy as np
from sklearn.model_selection import StratifiedKFold, cross_val_score
root = Path(sys.argv[1])
sys.path.insert(0, str(root))
from model import build_estimator
with (root / "data" / "requests.csv").open(newline="", encoding="utf-8") as fh:
    rows = list(csv.DictReader(fh))
x = np.asarray([r["payload"] for r in rows], dtype=object)
y = np.asarray([r["label"] for r in rows])
cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
print(cross_val_score(build_estimator(0), x, y, cv=cv, scoring="accuracy").mean())
model = build_estimator(0).fit(x, y)
if sys.argv[2] == "skops":
    import skops.io
    skops.io.dump(model, root / "plain.skops")
else:
    with (root / "plain.pkl").open("wb") as fh:
        pickle.dump(model, fh)
"""


def _load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _time(fn: Callable[[], Any], runs: int) -> tuple[float, list[float]]:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import numpy as np
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from secpipe.core.step import StepContext
    from secpipe.ml.evaluate_step import EvaluateStep
    from secpipe.ml.settings import EvaluateSettings, TrainSettings
    from secpipe.ml.train_step import TrainStep

    work = Path(tempfile.mkdtemp(prefix="secpipe-bench-train-"))
    try:
        root = work / "rc"
        shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".secpipe", "artifacts",
                                                                     "__pycache__"))
        _load(root / "build_dataset.py", "bench_build_dataset").build(root / "data")
        model = _load(root / "model.py", "bench_model")
        with (root / "data" / "requests.csv").open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        x = np.asarray([r["payload"] for r in rows], dtype=object)
        y = np.asarray([r["label"] for r in rows])
        cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)

        def plain_cv() -> Any:
            return cross_val_score(model.build_estimator(0), x, y, cv=cv, scoring="accuracy")

        def plain_job() -> None:
            plain_cv()
            est = model.build_estimator(0).fit(x, y)
            with (work / "plain.pkl").open("wb") as fh:
                pickle.dump(est, fh)

        script = work / "plain_job.py"
        script.write_text(PLAIN_SCRIPT, encoding="utf-8")

        def plain_script(fmt: str = "pickle") -> None:
            subprocess.run([sys.executable, str(script), str(root), fmt], check=True,
                           stdout=subprocess.DEVNULL)

        def plain_script_skops() -> None:
            plain_script("skops")

        settings = TrainSettings.model_validate({
            "estimator": "model.py:build_estimator", "data": "data/requests.csv",
            "target": "label", "features": ["payload"], "folds": 5, "seed": 0})
        results: dict[str, Any] = {}

        def step() -> None:
            ctx = StepContext(project_root=root, workdir=root / ".secpipe" / "b" / "train",
                              timeout=600)
            result = TrainStep().run(ctx, settings)
            assert result.status.value == "passed", result.message
            results["train"] = dict(result.metrics)

        def evaluate() -> None:
            ctx = StepContext(project_root=root, workdir=root / ".secpipe" / "b" / "evaluate",
                              timeout=600)
            result = EvaluateStep().run(ctx, EvaluateSettings.model_validate(
                {"data": "data/holdout.csv", "compare_with_last": False}))
            assert result.status.value == "passed", result.message
            results["evaluate"] = dict(result.metrics)

        cv_median, cv_times = _time(plain_cv, args.runs)
        job_median, job_times = _time(plain_job, args.runs)
        script_median, script_times = _time(plain_script, args.runs)
        skops_median, skops_times = _time(plain_script_skops, args.runs)
        step_median, step_times = _time(step, args.runs)
        eval_median, eval_times = _time(evaluate, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    budget = max(0.05 * script_median, 1.0)
    overhead = step_median - script_median
    summary = {
        "runs": args.runs, "load_average": os.getloadavg(),
        "cross_val_score_s": cv_median, "cv_final_fit_save_s": job_median,
        "plain_script_s": script_median, "plain_script_skops_s": skops_median,
        "secpipe_train_s": step_median, "secpipe_evaluate_s": eval_median,
        "overhead_vs_script_s": overhead, "overhead_vs_script_pct": 100 * overhead / script_median,
        "overhead_vs_skops_script_s": step_median - skops_median,
        "overhead_vs_warm_job_s": step_median - job_median,
        "overhead_vs_warm_cv_s": step_median - cv_median, "budget_s": budget,
        "within_target": overhead <= budget,
        "times": {"cv": cv_times, "job": job_times, "script": script_times,
                  "script_skops": skops_times, "train": step_times, "evaluate": eval_times},
        "train_metrics": {k: v for k, v in results["train"].items() if k.startswith("cv_")},
        "holdout_metrics": {k: results["evaluate"][k] for k in (
            "accuracy", "f1_macro", "precision_macro", "recall_macro", "roc_auc_ovr", "ece",
            "brier")},
    }
    text = json.dumps(summary, indent=2)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
