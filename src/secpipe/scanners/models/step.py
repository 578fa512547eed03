"""The ``scan-models`` step kind: find model files under the project by content and scan them.

Files come from the scanner walker (:func:`secpipe.scanners.base.collect_files`); every file is
typed by its bytes, so a model saved as ``weights.bin`` is found as well as ``model.pt``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from pydantic import Field

from secpipe import __version__
from secpipe.core.findings import Finding
from secpipe.core.results import Skipped, StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind
from secpipe.scanners.base import (
    NOT_ON_CLI,
    ArchiveScannerSettings,
    collect_files,
    metavar,
)
from secpipe.scanners.models.report import Collector, Where
from secpipe.scanners.walk import UNREADABLE, FileEntry, collect, unreadable


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
        from secpipe.scanners.models.engine import Budgets, ModelScanner  # only when run

        root = ctx.project_root.resolve()
        scanner = ModelScanner(Budgets(
            max_depth=settings.max_archive_depth, max_members=settings.max_archive_members,
            max_member_bytes=settings.max_member_bytes,
            max_total_bytes=settings.max_archive_bytes,
            max_seconds=settings.max_seconds_per_file), frozenset(settings.allow))
        skipped: list[Skipped] = []
        files = collect_files(root, settings, skipped)
        if settings.run_outputs:
            seen = {f.rel for f in files}
            files += [f for f in _run_outputs(root, ctx, skipped) if f.rel not in seen]
        # a folder or entry the walker could not read is a finding, as an unreadable file is
        findings = [_not_read(s.path, s.reason) for s in unreadable(skipped)]
        failed: list[str] = []  # files named explicitly that could not be scanned
        scanned = bytes_read = bytes_total = 0
        models: list[str] = []  # the files found to be models, as the findings name them
        started = next_report = time.monotonic()
        for i, entry in enumerate(files):
            if ctx.cancel.is_set():
                return StepResult(status=StepStatus.ERROR, findings=tuple(findings),
                                  message=f"cancelled after {i} of {len(files)} files",
                                  tool=f"secpipe {__version__}")
            if time.monotonic() >= next_report:  # a few updates a second, not one per file
                ctx.progress(i, len(files), entry.rel)
                next_report = time.monotonic() + 0.25
            problem = ""
            if settings.max_file_bytes and entry.size > settings.max_file_bytes:
                problem = f"too large ({entry.size} bytes, limit {settings.max_file_bytes})"
            else:
                try:
                    report = scanner.scan_file(Path(entry.path), entry.rel)
                except OSError as exc:
                    problem = f"{UNREADABLE}{exc.strerror or exc}"
            if problem:  # listed, and a finding: a file not analysed never passes silently
                skipped.append(Skipped(entry.rel, problem))
                findings.append(_not_read(entry.rel, problem) if problem.startswith(UNREADABLE)
                                else _not_analysed(entry.rel, problem))
                if entry.explicit:
                    failed.append(f"{entry.rel}: {problem}")
                continue
            scanned += 1
            bytes_total += entry.size
            bytes_read += report.bytes_read
            if report.formats:
                models.append(entry.rel)
            findings.extend(report.findings)
        ctx.progress(len(files), len(files), "done")
        elapsed = time.monotonic() - started
        metrics = {"files_scanned": float(scanned), "models_found": float(len(models)),
                   "bytes_scanned": float(bytes_total), "bytes_read": float(bytes_read),
                   "findings": float(len(findings)), "seconds": round(elapsed, 3)}
        worst = max((f.severity.rank for f in findings), default=-1)
        message = (f"{len(models)} model file(s){_named(models)} among {scanned} file(s) scanned, "
                   f"{len(findings)} finding(s)" + (" (critical)" if worst == 4 else ""))
        status = StepStatus.PASSED
        if failed:  # a file the user named could not be scanned: the step did not complete
            status = StepStatus.ERROR
            message = failed[0] + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else "")
        return StepResult(status=status, findings=tuple(findings), metrics=metrics,
                          skipped=tuple(skipped), message=message, tool=f"secpipe {__version__}")


def _named(models: list[str], shown: int = 5) -> str:
    """`` (a.pkl, b/c.pt, … and 3 more)``: the model files in the step's one-line message, which
    the table and every report (``--json`` included) carry."""
    if not models:
        return ""
    more = f", … and {len(models) - shown} more" if len(models) > shown else ""
    return f" ({', '.join(models[:shown])}{more})"


def _not_analysed(rel: str, problem: str) -> Finding:
    coll = Collector()
    coll.incomplete(Where(rel), problem)
    return coll.findings[0]


def _not_read(rel: str, reason: str) -> Finding:
    coll = Collector()
    coll.unreadable(Where(rel), reason.removeprefix(UNREADABLE))
    return coll.findings[0]


def _run_outputs(root: Path, ctx: StepContext, skipped: list[Skipped]) -> list[FileEntry]:
    """Files that earlier steps of this run wrote under ``ctx.run_dir`` (not this step's own
    work folder). Named by their path under the project when the state folder is inside it."""
    run_dir = ctx.run_dir.resolve()
    if not run_dir.is_dir():
        return []  # no earlier step of this run wrote anything (or an ad-hoc scan)
    own = ctx.workdir.resolve()
    if run_dir.is_relative_to(root):
        found = collect(root, [str(run_dir)], (), skipped)
    else:
        prefix = run_dir.as_posix() + "/"
        inner: list[Skipped] = []
        found = [replace(f, rel=prefix + f.rel) for f in collect(run_dir, ["."], (), inner)]
        skipped += [Skipped(prefix + s.path, s.reason) for s in inner]
    return [f for f in found if not Path(f.path).is_relative_to(own)]
