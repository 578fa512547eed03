"""Overhead of secpipe's ``train`` step around plain scikit-learn on the example project.

    python benchmarks/train/bench_overhead.py [--runs 5] [--json out.json]

It copies examples/request-classifier into a temp folder, builds its data (seed 1337), and times,
after one warm-up each, ``--runs`` interleaved rounds (wall and CPU seconds; overheads are medians
of the per-round differences, so a change in the shared machine's load hits both sides) of:

* ``cross_val_score``: ``cross_val_score(build_estimator(0), X, y, cv=StratifiedKFold(5,
  shuffle=True, random_state=0))`` in this (warm) process;
* ``cv + final fit + save``: the same plus the fit on all data and a ``pickle.dump`` of the model,
  which is the work a training job does and the train step does too;
* ``plain script``: that job as a fresh ``python`` process (reads the CSV, imports scikit-learn):
  what a CI training stage without secpipe costs; and the same script saving with skops instead
  of pickle, vocabulary stored as ints as secpipe does (to separate the cost of the safe format
  from secpipe's own);
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
import resource
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
if sys.argv[2] == "skops":  # with the same shrinking secpipe applies (ints in the vocabulary)
    import skops.io
    vectorizer = model.named_steps["tfidf"]
    vectorizer.vocabulary_ = {k: int(v) for k, v in vectorizer.vocabulary_.items()}
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


def _cpu() -> float:
    """CPU seconds of this process and its waited-for children (load-insensitive-ish)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _rounds(variants: dict[str, Callable[[], Any]], runs: int) -> dict[str, dict[str, list[float]]]:
    """One warm-up of each, then ``runs`` rounds running every variant once, interleaved, so
    that a change in the machine's load hits all variants alike."""
    out: dict[str, dict[str, list[float]]] = {n: {"wall": [], "cpu": []} for n in variants}
    for fn in variants.values():
        fn()
    for _ in range(runs):
        for name, fn in variants.items():
            wall, cpu = time.perf_counter(), _cpu()
            fn()
            out[name]["wall"].append(time.perf_counter() - wall)
            out[name]["cpu"].append(_cpu() - cpu)
    return out


def _paired(a: list[float], b: list[float]) -> float:
    """Median of the per-round differences a - b."""
    return statistics.median(x - y for x, y in zip(a, b, strict=True))


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

        times = _rounds({"cross_val_score": plain_cv, "cv_final_fit_save": plain_job,
                         "plain_script": plain_script, "plain_script_skops": plain_script_skops,
                         "secpipe_train": step, "secpipe_evaluate": evaluate}, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med = {n: {k: statistics.median(v) for k, v in t.items()} for n, t in times.items()}
    train, script = times["secpipe_train"], times["plain_script"]
    overhead = {k: _paired(train[k], script[k]) for k in ("wall", "cpu")}
    budget = max(0.05 * med["plain_script"]["wall"], 1.0)
    summary = {
        "runs": args.runs, "load_average_after": os.getloadavg(),
        "median_s": med,
        "overhead_vs_plain_script_s": overhead,
        "overhead_vs_plain_script_pct": {k: 100 * overhead[k] / med["plain_script"][k]
                                         for k in overhead},
        "overhead_vs_skops_script_s": {k: _paired(train[k], times["plain_script_skops"][k])
                                       for k in ("wall", "cpu")},
        "overhead_vs_warm_cv_plus_fit_s": {k: _paired(train[k], times["cv_final_fit_save"][k])
                                           for k in ("wall", "cpu")},
        "budget_s": budget, "within_target_wall": overhead["wall"] <= budget,
        "times": times,
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
