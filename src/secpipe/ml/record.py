"""The training record: metrics flattened for the gate, and the JSON written next to the model."""

from __future__ import annotations

import json
import math
import os
import statistics
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from secpipe.core.artifacts import sha256_file
from secpipe.ml.schema import MetricsFile

RECORD_NAME = "training-record.json"
MAX_EPOCH_METRICS = 1000
MAX_RECORD_BYTES = 32 << 20


def flatten(metrics: MetricsFile) -> tuple[dict[str, float], bool]:
    """Step metrics from a metrics file: ``cv_<m>_mean/_std`` (sample std over folds),
    ``fold_<n>_<m>``, ``fold_<n>_epoch_<e>_<m>`` (capped), ``final_<m>``; (metrics, capped)."""
    out: dict[str, float] = {}
    folds = sorted(metrics.folds, key=lambda f: f.fold)
    for fold in folds:
        for name, value in fold.metrics.items():
            out[f"fold_{fold.fold}_{name}"] = value
        if fold.stopped_epoch is not None:
            out[f"fold_{fold.fold}_stopped_epoch"] = float(fold.stopped_epoch)
        if fold.best_epoch is not None:
            out[f"fold_{fold.fold}_best_epoch"] = float(fold.best_epoch)
    shared = set.intersection(*(set(f.metrics) for f in folds)) if folds else set()
    for name in sorted(shared):
        values = [f.metrics[name] for f in folds]
        out[f"cv_{name}_mean"] = statistics.fmean(values)
        out[f"cv_{name}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
    if folds:
        out["cv_folds"] = float(len(folds))
    capped = False
    count = 0
    for entry in metrics.epochs:
        prefix = f"fold_{entry.fold}_epoch_{entry.epoch}" if entry.fold else f"epoch_{entry.epoch}"
        for name, value in entry.metrics.items():
            if count >= MAX_EPOCH_METRICS:
                capped = True
                break
            out[f"{prefix}_{name}"] = value
            count += 1
    for name, value in metrics.final.items():
        out[f"final_{name}"] = value
    if metrics.final_epochs is not None:
        out["final_epochs"] = float(metrics.final_epochs)
    if metrics.seed is not None:
        out["seed"] = float(metrics.seed)
    return out, capped


def data_entry(path: Path, display: str) -> dict[str, Any]:
    """Digest, size and name of an input file."""
    digest, size = sha256_file(path)
    return {"path": display, "sha256": digest, "size": size}


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write atomically (NaN refused: the record must be valid JSON)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".rec-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(_finite(data), fh, indent=2, sort_keys=False)
        fh.write("\n")
    os.replace(tmp, path)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def read_record(path: Path) -> dict[str, Any]:
    """Read a training record written by the train step (bounded; it is our own JSON)."""
    from secpipe.core.errors import InputError

    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            raise InputError(f"{path.name} is larger than 32 MiB")
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise InputError(f"no training record at {path} (did the train step run?)") from None
    except ValueError as exc:
        raise InputError(f"{path.name}: not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != 1:
        raise InputError(f"{path.name}: not a version 1 training record")
    return data
