"""The ``with:`` settings of the ``train`` and ``evaluate`` steps."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from secpipe.core.step import StepSettings

_ESTIMATOR = re.compile(r"^(?P<file>[^:]+\.py):(?P<func>[A-Za-z_][A-Za-z0-9_]*)$")

TEXT_FAMILIES = (
    "case", "whitespace", "url-encoding", "double-encoding", "homoglyph", "comment-injection",
    "html-entity", "null-byte",
)
TABULAR_FAMILIES = ("gaussian-noise",)

InputKind = Literal["auto", "text", "tabular"]


class EarlyStopping(BaseModel):
    """Early stopping for estimators that learn incrementally (``partial_fit``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    monitor: Literal["f1_macro", "accuracy", "loss"] = "f1_macro"
    """Validation metric watched after each epoch (``loss`` is log loss: lower is better)."""
    patience: int = Field(default=3, ge=1, le=1000)
    """Epochs without an improvement larger than ``min_delta`` before training stops."""
    min_delta: float = Field(default=0.001, ge=0.0)
    """Smallest change that counts as an improvement."""
    max_epochs: int = Field(default=50, ge=1, le=100_000)
    """Upper bound on epochs (passes of ``partial_fit`` over the training fold)."""


class DataSettings(StepSettings):
    """Where the table is and which columns matter (shared by train and evaluate)."""

    target: str | None = None
    """Label column (train default: ``label``; evaluate default: what training used)."""
    features: list[str] | None = None
    """Feature columns (default: every column but the label and ``exclude``)."""
    exclude: list[str] = Field(default_factory=list)
    """Columns that are not features (an id, a timestamp) when ``features`` is not set."""
    input: InputKind = "auto"
    """``text`` (one column of strings), ``tabular`` (numeric columns) or ``auto``."""
    max_data_bytes: int = Field(default=512 << 20, gt=0)
    """A data file larger than this is refused."""


class TrainSettings(DataSettings):
    """``train``: estimator mode (``estimator`` + ``data``) or command mode (``command``); with
    neither, the step is skipped (and a gate bounding a model metric fails: it was not measured)."""

    estimator: str | None = None
    """``path/to/file.py:function`` (relative to the project) returning an unfitted estimator
    with the scikit-learn API; the file is loaded by path in the training subprocess."""
    data: str | None = None
    """Training table (CSV with a header), relative to the project."""
    folds: int = Field(default=5, ge=2, le=100)
    """Number of stratified cross-validation folds."""
    shuffle: bool = True
    """Shuffle before splitting into folds."""
    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    """Seed for splits, shuffling and the estimator (passed to the builder as ``seed``)."""
    early_stopping: EarlyStopping | None = None
    """Early stopping on a validation metric (estimators with ``partial_fit`` only)."""
    holdout: float | None = Field(default=None, gt=0.0, lt=1.0)
    """Keep this share of ``data`` out of training (seeded, stratified by label) as the held-out
    table ``evaluate`` scores when it names no ``data`` of its own."""
    python: str | None = None
    """The interpreter that runs the training: a file, or a virtual environment's folder (its
    ``bin/python``), relative to the project or absolute; ``{python}`` in ``command`` is replaced
    by it (default: the Python secpipe runs with)."""
    format: Literal["skops", "onnx", "pickle"] = "skops"
    """How the model is saved: skops and onnx (skl2onnx, estimator mode) cannot carry code;
    pickle can (the model scan applies)."""
    command: list[str] | None = None
    """Command mode: argv run in the project (``{outdir}``, ``{seed}`` are replaced); it writes
    ``{outdir}/model.*`` and ``{outdir}/metrics.json``; ``{data}`` is the training table (with
    ``holdout``, its training part) and ``{holdout}`` the held-out part."""
    timeout: float | None = Field(default=None, gt=0)
    """Seconds the training subprocess may take (default: the step's timeout, less a margin)."""

    @field_validator("estimator")
    @classmethod
    def _estimator_ref(cls, value: str | None) -> str | None:
        if value is not None and not _ESTIMATOR.match(value):
            raise ValueError("write the estimator as 'file.py:function' (a project file path)")
        return value

    @field_validator("command")
    @classmethod
    def _command(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or not value[0]):
            raise ValueError("command must be a non-empty list of arguments")
        return value

    @model_validator(mode="after")
    def _one_mode(self) -> TrainSettings:
        if self.estimator is not None and self.command is not None:
            raise ValueError("set only one of 'estimator' (with 'data') or 'command'")
        if self.estimator is not None and self.data is None:
            raise ValueError("'estimator' needs 'data' (the training table)")
        if self.holdout is not None and self.data is None:
            raise ValueError("'holdout' needs 'data' (the table to split)")
        if self.features and self.exclude:
            raise ValueError("set 'features' or 'exclude', not both")
        return self

    def configured(self) -> bool:
        """True when a training mode is set."""
        return self.estimator is not None or self.command is not None

    def estimator_parts(self) -> tuple[str, str]:
        match = _ESTIMATOR.match(self.estimator or "")
        assert match is not None
        return match.group("file"), match.group("func")


class Robustness(BaseModel):
    """Opt-in evaluation under perturbation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    families: list[str] | None = None
    """Perturbation families (default: every text family for text input, ``gaussian-noise``
    for tabular input)."""
    noise_scale: float = Field(default=0.1, gt=0.0, le=10.0)
    """Tabular: noise standard deviation as a fraction of each column's standard deviation
    (values are clipped to the column's observed range)."""
    seed: int = Field(default=0, ge=0)
    """Seed of the perturbations."""

    @field_validator("families")
    @classmethod
    def _known(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        known = (*TEXT_FAMILIES, *TABULAR_FAMILIES)
        for family in value:
            if family not in known:
                raise ValueError(f"unknown robustness family {family!r} "
                                 f"(choose from {', '.join(known)})")
        if not value:
            raise ValueError("families must not be empty")
        return value


class EvaluateSettings(DataSettings):
    """``evaluate``: score the trained model on a held-out table."""

    data: str | None = None
    """Held-out table (CSV with a header), relative to the project (default: the held-out split
    of the train step's ``holdout``; without either the step is skipped)."""
    model: str | None = None
    """Model file relative to the project (default: the model of the ``train_step`` of this run,
    checked against its recorded digest)."""
    train_step: str = "train"
    """Id of the train step whose model is evaluated."""
    trusted_types: list[str] = Field(default_factory=list)
    """Types skops reports as untrusted that you reviewed and accept (exact names)."""
    unsafe_allow_pickle: bool = False
    """Let a pickled model be loaded (in a subprocess). Unsafe: loading a pickle runs code."""
    robustness: Robustness | None = None
    """Evaluate under perturbation (off unless set)."""
    compare_with_last: bool = True
    """Emit ``<metric>_drop_vs_last`` against the last passed run of the same pipeline."""
    intended_use: str = ""
    """For the model card: what the model is for."""
    limitations: str = ""
    """For the model card: known limitations and out-of-scope uses."""
    timeout: float | None = Field(default=None, gt=0)
    """Seconds a prediction subprocess may take (default: the step's timeout, less a margin)."""
