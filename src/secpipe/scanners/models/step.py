"""The ``scan-models`` step kind: find model files under the project by content and scan them.

Files come from the scanner walker (:func:`secpipe.scanners.walk.collect`, with the excludes the
settings put in force); every file is typed by its bytes, so a model saved as ``weights.bin`` is
found as well as ``model.pt``. The scan itself is :func:`secpipe.scanners.models.engine.scan_tree`,
on the settings as plain values (``ModelScanSettings.plain``), which ``secpipe scan models`` can
also build from its options without this module (:mod:`secpipe.core.scan_options`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from secpipe.core.results import StepResult
from secpipe.core.step import StepContext, StepKind
from secpipe.scanners.base import NOT_ON_CLI, ArchiveScannerSettings, metavar

if TYPE_CHECKING:
    from secpipe.scanners.models.engine import ModelScanOptions


class ModelScanSettings(ArchiveScannerSettings):
    """``with:`` settings of ``scan-models`` (paths, excludes and budgets: the scanner base)."""

    allow: list[str] = Field(default_factory=list, json_schema_extra=metavar("MODULE.NAME"))
    """Treat this pickle callable as safe (module.name; repeatable)."""
    max_file_bytes: int = Field(default=0, ge=0, json_schema_extra=metavar("N"))
    """Skip (and report) files larger than this; 0: no limit (tensor bytes are never read)."""
    max_archive_depth: int = Field(default=6, ge=1, le=32, json_schema_extra=metavar("N"))
    """Deepest nesting of containers (archive in archive, nested pickles)."""
    max_archive_members: int = Field(default=100_000, gt=0, json_schema_extra=metavar("N"))
    """Most members listed per archive."""
    max_archive_bytes: int = Field(default=4 << 30, gt=0, json_schema_extra=metavar("N"))
    """Most bytes decompressed or copied per file, over all its members."""
    max_member_bytes: int = Field(default=1 << 30, gt=0, json_schema_extra=metavar("N"))
    """Largest archive member or decompressed stream read into memory."""
    max_seconds_per_file: float = Field(default=60.0, gt=0, json_schema_extra=metavar("SECONDS"))
    """Wall-clock budget per file (a file that needs more gets a scan-incomplete finding)."""
    run_outputs: bool = Field(default=True, json_schema_extra=NOT_ON_CLI)
    """In a pipeline run, also scan what earlier steps of the same run wrote (the trained model,
    fetched artifacts) under ``<state_dir>/runs/<run-id>/``, which the excludes otherwise hide."""

    def plain(self) -> ModelScanOptions:
        """These settings as the engine's plain values."""
        from secpipe.scanners.models.engine import ModelScanOptions

        return ModelScanOptions.from_values(self.model_dump())


class ModelScanStep(StepKind[ModelScanSettings]):
    """Detect code execution hidden in serialized models, in every common format."""

    kind = "scan-models"
    summary = "model files (pickle, PyTorch, joblib, NumPy, Keras, SavedModel, ONNX, GGUF, " \
              "safetensors, archives): code hidden in serialized models"
    Settings = ModelScanSettings
    produces_metrics = (
        "files_scanned", "models_found", "bytes_scanned", "bytes_read",
        "findings", "seconds",
    )

    def run(self, ctx: StepContext, settings: ModelScanSettings) -> StepResult:
        from secpipe.scanners.models.engine import scan_tree  # only when run

        return scan_tree(ctx, settings.plain())
