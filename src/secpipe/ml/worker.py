"""The subprocess entry: ``python -I -m secpipe.ml.worker (train|predict) SPEC.json``.

This module is where the project's own code runs, in a child process with the project as its
working folder, never in the secpipe process. It talks back through JSON lines on stdout
(``progress``, ``log``, ``error``) and files in the output folder; the parent validates what it
writes as untrusted input.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import pickle
import platform
import random
import sys
import time
import traceback
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from secpipe.core.errors import SecpipeError


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def library_versions(fmt: str = "skops") -> dict[str, str]:
    out = {"python": platform.python_version()}
    names = ("scikit-learn", "numpy", "scipy") + (
        ("skl2onnx", "onnx", "onnxruntime") if fmt == "onnx" else ("skops",))
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def _load_builder(project: Path, file: str, func: str, seed: int) -> Any:
    path = (project / file).resolve()
    stem = Path(file).with_suffix("").as_posix().replace("/", ".")
    name = stem if all(part.isidentifier() for part in stem.split(".")) else "project_estimator"
    sys.path.insert(0, str(project))  # so the file can import its neighbours, as it would
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot load {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    builder = getattr(module, func, None)
    if not callable(builder):
        raise ValueError(f"{file} has no function {func!r}")
    params = inspect.signature(builder).parameters

    def build() -> Any:
        if "seed" in params:
            est = builder(seed=seed)
        elif "random_state" in params:
            est = builder(random_state=seed)
        else:
            est = builder()
        if not (hasattr(est, "fit") and hasattr(est, "predict")):
            raise ValueError(f"{file}:{func} returned {type(est).__name__}, not an estimator "
                             "with fit/predict")
        return est

    return build


def train(spec: dict[str, Any]) -> None:
    from secpipe.ml.cv import cross_validate, final_fit, slim
    from secpipe.ml.data import load_table

    phases: dict[str, float] = {}
    clock = time.perf_counter()
    seed = int(spec["seed"])
    random.seed(seed)
    np.random.seed(seed)
    project = Path(spec["project"])
    table = load_table(Path(spec["data"]), spec["data_display"], spec["target"],
                       spec["features"], spec["input"], int(spec["max_data_bytes"]))
    x = np.asarray(table.x, dtype=object if table.kind == "text" else float)
    y = np.asarray(table.y)
    build = _load_builder(project, spec["estimator_file"], spec["function"], seed)
    phases["load"], clock = time.perf_counter() - clock, time.perf_counter()
    early = spec["early_stopping"]
    emit({"event": "log", "message": f"{table.rows} rows, {len(set(table.y))} classes, "
          f"{spec['folds']}-fold stratified CV"})
    outcome = cross_validate(build, x, y, int(spec["folds"]), bool(spec["shuffle"]), seed, early,
                             emit)
    phases["cv"], clock = time.perf_counter() - clock, time.perf_counter()
    model, epochs = final_fit(build, x, y, early, outcome.best_epochs, seed, emit)
    phases["final_fit"], clock = time.perf_counter() - clock, time.perf_counter()
    outdir = Path(spec["outdir"])
    dropped = slim(model)
    agreement = None
    if spec["format"] == "pickle":
        name = "model.pkl"
        with (outdir / name).open("wb") as fh:
            pickle.dump(model, fh, protocol=4)
    elif spec["format"] == "onnx":
        from secpipe.ml.onnx_io import export

        name = "model.onnx"
        data, agreement = export(model, x, table.kind)
        (outdir / name).write_bytes(data)
        emit({"event": "log", "message": f"ONNX model agrees with the estimator on "
              f"{agreement:.2%} of checked training rows"})
    else:
        import skops.io

        name = "model.skops"
        skops.io.dump(model, outdir / name)
    phases["save"] = time.perf_counter() - clock
    metrics = {
        "version": 1, "framework": f"scikit-learn {library_versions().get('scikit-learn', '?')}",
        "seed": seed, "model": name, "epochs": outcome.epochs, "folds": outcome.folds,
        "libraries": library_versions(spec["format"]), "final_epochs": epochs,
    }
    (outdir / "metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    info = {"estimator": repr(model)[:4000], "classes": [str(c) for c in np.unique(y)],
            "incremental": bool(early is not None and outcome.best_epochs),
            "slimmed": dropped, "seconds": phases, "onnx_agreement": agreement}
    (outdir / "worker-info.json").write_text(json.dumps(info), encoding="utf-8")


def predict(spec: dict[str, Any]) -> None:
    from secpipe.ml.predict import load_model, predict_sets

    project = Path(spec["project"])
    sys.path.insert(0, str(project))  # allow-listed project types resolve from the project
    model = load_model(Path(spec["model"]), spec["format"], spec["trusted"],
                       allow_pickle=bool(spec.get("unsafe_allow_pickle")))
    sets = json.loads(Path(spec["inputs"]).read_text(encoding="utf-8"))
    result = predict_sets(model, sets)
    Path(spec["out"]).write_text(json.dumps(result), encoding="utf-8")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("train", "predict"):
        emit({"event": "error", "message": "usage: python -m secpipe.ml.worker train|predict SPEC"})
        return 2
    try:
        spec = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        (train if argv[0] == "train" else predict)(spec)
    except Exception as exc:
        last = traceback.extract_tb(exc.__traceback__)[-1:]
        where = f" ({Path(last[0].filename).name}:{last[0].lineno})" if last else ""
        text = (str(exc).splitlines() or [""])[0]
        if isinstance(exc, SecpipeError):
            emit({"event": "error", "message": text})
        else:
            emit({"event": "error", "message": f"{type(exc).__name__}: {text}{where}"})
        traceback.print_exc()
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
