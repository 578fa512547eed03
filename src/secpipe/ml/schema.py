"""The training metrics file secpipe defines (``metrics.json``, version 1).

Both training modes produce it: secpipe's own worker writes it, and a project's training command
must write it to ``{outdir}/metrics.json``. It is validated strictly (unknown keys, non-finite
numbers, scores outside [0, 1], inconsistent fold numbers are errors naming the key), because a
gate trusts what it says. Example::

    {"version": 1,
     "framework": "keras 3.6",
     "seed": 0,
     "model": "model.safetensors",
     "epochs": [{"epoch": 1, "fold": 1, "metrics": {"val_accuracy": 0.91, "loss": 0.32}}],
     "folds": [{"fold": 1, "metrics": {"accuracy": 0.93}, "stopped_epoch": 7, "best_epoch": 4}],
     "final": {"accuracy": 0.94}}
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from secpipe.core.errors import InputError

MAX_METRICS_BYTES = 8 << 20
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_UNIT_RANGE = ("accuracy", "f1", "precision", "recall", "auc")


def _check_metrics(value: dict[str, float]) -> dict[str, float]:
    for name, number in value.items():
        if not _NAME.match(name):
            raise ValueError(f"metric name {name!r} must match {_NAME.pattern}")
        if not math.isfinite(number):
            raise ValueError(f"metric {name} is not a finite number")
        if any(word in name.lower() for word in _UNIT_RANGE) and not 0.0 <= number <= 1.0:
            raise ValueError(f"metric {name} = {number} is outside [0, 1]")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class EpochEntry(_Strict):
    """One epoch: validation metrics after it."""

    epoch: int = Field(ge=1)
    """1-based epoch number."""
    fold: int | None = Field(default=None, ge=1)
    """The fold it belongs to (None for the final fit or a single split)."""
    metrics: dict[str, float]
    """Metrics measured after the epoch (``val_accuracy``, ``loss`` …)."""

    _metrics = field_validator("metrics")(_check_metrics)


class FoldEntry(_Strict):
    """One cross-validation fold: its validation metrics."""

    fold: int = Field(ge=1)
    """1-based fold number."""
    metrics: dict[str, float]
    """Validation metrics of the fold (``accuracy``, ``f1_macro`` …)."""
    train_size: int | None = Field(default=None, ge=0)
    """Rows trained on."""
    val_size: int | None = Field(default=None, ge=0)
    """Rows validated on."""
    stopped_epoch: int | None = Field(default=None, ge=1)
    """Epoch at which early stopping ended training."""
    best_epoch: int | None = Field(default=None, ge=1)
    """Epoch whose weights were kept."""

    _metrics = field_validator("metrics")(_check_metrics)


class MetricsFile(_Strict):
    """The whole file."""

    version: Literal[1]
    """Schema version (1)."""
    framework: str = Field(default="", max_length=200)
    """Framework and version that trained the model."""
    seed: int | None = None
    """Seed the training used."""
    model: str | None = Field(default=None, max_length=255)
    """Model file name inside the output folder (default: the one ``model.*`` there)."""
    epochs: list[EpochEntry] = Field(default_factory=list, max_length=1_000_000)
    """Per-epoch validation metrics."""
    folds: list[FoldEntry] = Field(default_factory=list, max_length=1000)
    """Per-fold validation metrics."""
    final: dict[str, float] = Field(default_factory=dict)
    """Metrics of the final model (on its training data or a validation split)."""
    libraries: dict[str, str] = Field(default_factory=dict)
    """Library versions (``scikit-learn: 1.9.1``)."""
    final_epochs: int | None = Field(default=None, ge=1)
    """Epochs of the final fit, when it learned incrementally."""

    _final = field_validator("final")(_check_metrics)

    @field_validator("model")
    @classmethod
    def _plain_name(cls, value: str | None) -> str | None:
        if value is not None and (not value or "/" in value or "\\" in value
                                  or value in {".", ".."}):
            raise ValueError("must be a plain file name inside the output folder")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> MetricsFile:
        numbers = [f.fold for f in self.folds]
        if len(set(numbers)) != len(numbers):
            raise ValueError("folds: a fold number appears twice")
        known = set(numbers)
        for index, entry in enumerate(self.epochs):
            if entry.fold is not None and entry.fold not in known:
                raise ValueError(f"epochs[{index}].fold: fold {entry.fold} is not in 'folds'")
        return self


def read_metrics_file(path: Path) -> MetricsFile:
    """Read and validate; :class:`InputError` names the file and the bad key."""
    from secpipe.pipeline.validation import format_validation_error

    try:
        size = path.stat().st_size
    except OSError:
        raise InputError(f"{path.name}: the training did not write it") from None
    if size > MAX_METRICS_BYTES:
        raise InputError(f"{path.name}: {size} bytes is too large for a metrics file (max 8 MiB)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path.name}: not valid JSON: {exc}") from None
    try:
        return MetricsFile.model_validate(data)
    except ValidationError as exc:
        raise InputError(format_validation_error(path.name, exc)) from None


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed")
