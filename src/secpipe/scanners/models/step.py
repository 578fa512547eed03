"""The ``scan-models`` step kind: find model files under the project by content and scan them."""

from __future__ import annotations

import fnmatch
import os
import time
from collections.abc import Iterator
from pathlib import Path

from pydantic import Field

from secpipe import __version__
from secpipe.core.errors import InputError
from secpipe.core.findings import Finding
from secpipe.core.results import Skipped, StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind, StepSettings
from secpipe.scanners.models.engine import Budgets, ModelScanner

DEFAULT_EXCLUDE = [".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "node_modules",
                   ".secpipe", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache",
                   ".ipynb_checkpoints"]


class ModelScanSettings(StepSettings):
    """``with:`` settings of ``scan-models``."""

    paths: list[str] = Field(default_factory=lambda: ["."])
    """Files or folders to scan, relative to the project root."""
    exclude: list[str] = Field(default_factory=lambda: list(DEFAULT_EXCLUDE))
    """Globs of paths (or path components) to skip."""
    allow: list[str] = Field(default_factory=list)
    """Extra allowlisted pickle callables (``module.name``)."""
    max_file_bytes: int = Field(default=0, ge=0)
    """Skip (and report) files larger than this; 0 means no limit (tensor bytes are not read)."""
    max_member_bytes: int = Field(default=1 << 30, gt=0)
    """Largest archive member or decompressed stream read into memory."""
    max_total_bytes: int = Field(default=4 << 30, gt=0)
    """Bytes decompressed or copied per file."""
    max_depth: int = Field(default=6, ge=1, le=32)
    """Container nesting depth."""
    max_members: int = Field(default=100_000, gt=0)
    """Members per archive."""
    max_seconds_per_file: float = Field(default=60.0, gt=0)
    """Wall-clock budget per file."""
    run_outputs: bool = True
    """In a pipeline run, also scan what earlier steps of the same run wrote (the trained model,
    fetched artifacts) under ``.secpipe/runs/<run-id>/``, which the excludes otherwise hide."""


class ModelScanStep(StepKind):
    """Detect code execution hidden in serialized models, in every common format."""

    kind = "scan-models"
    summary = "model files (pickle, PyTorch, joblib, NumPy, Keras, SavedModel, ONNX, GGUF, " \
              "safetensors, archives): code hidden in serialized models"
    Settings = ModelScanSettings

    def run(self, ctx: StepContext, settings: ModelScanSettings) -> StepResult:
        root = ctx.project_root.resolve()
        scanner = ModelScanner(Budgets(
            max_depth=settings.max_depth, max_members=settings.max_members,
            max_member_bytes=settings.max_member_bytes,
            max_total_bytes=settings.max_total_bytes,
            max_seconds=settings.max_seconds_per_file), frozenset(settings.allow))
        files, skipped = _discover(root, settings)
        if settings.run_outputs:
            files += _run_outputs(root, ctx)
        findings: list[Finding] = []
        models = scanned = bytes_read = bytes_total = 0
        started = next_report = time.monotonic()
        for i, (path, rel) in enumerate(files):
            if ctx.cancel.is_set():
                return StepResult(status=StepStatus.ERROR, findings=tuple(findings),
                                  message=f"cancelled after {i} of {len(files)} files",
                                  tool=f"secpipe {__version__}")
            if time.monotonic() >= next_report:  # a few updates a second, not one per file
                ctx.progress(i, len(files), rel)
                next_report = time.monotonic() + 0.25
            try:
                size = path.stat().st_size
                if settings.max_file_bytes and size > settings.max_file_bytes:
                    skipped.append(Skipped(rel, f"too large ({size} bytes)"))
                    continue
                report = scanner.scan_file(path, rel)
            except OSError as exc:
                skipped.append(Skipped(rel, f"unreadable: {exc.strerror or exc}"))
                continue
            scanned += 1
            bytes_total += size
            bytes_read += report.bytes_read
            models += bool(report.formats)
            findings.extend(report.findings)
        ctx.progress(len(files), len(files), "done")
        elapsed = time.monotonic() - started
        metrics = {"files_scanned": float(scanned), "models_found": float(models),
                   "bytes_scanned": float(bytes_total), "bytes_read": float(bytes_read),
                   "findings": float(len(findings)), "seconds": round(elapsed, 3)}
        worst = max((f.severity.rank for f in findings), default=-1)
        message = (f"{models} model file(s) among {scanned} file(s) scanned, "
                   f"{len(findings)} finding(s)" + (" (critical)" if worst == 4 else ""))
        return StepResult(status=StepStatus.PASSED, findings=tuple(findings), metrics=metrics,
                          skipped=tuple(skipped), message=message, tool=f"secpipe {__version__}")


def _excluded(rel: str, patterns: list[str]) -> bool:
    parts = rel.split("/")
    for pat in patterns:
        if fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(rel, pat.rstrip("/") + "/*"):
            return True
        if "/" not in pat.strip("/") and any(fnmatch.fnmatch(p, pat.strip("/")) for p in parts):
            return True
    return False


def _discover(root: Path, settings: ModelScanSettings) -> tuple[list[tuple[Path, str]],
                                                                list[Skipped]]:
    files: list[tuple[Path, str]] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for entry in settings.paths:
        start = (root / entry).resolve() if not Path(entry).is_absolute() else Path(entry)
        if not start.exists():
            raise InputError(f"scan-models: path {entry!r} does not exist under {root}")
        for path in _walk(start, root, settings.exclude):
            rel = _rel(path, root)
            if rel in seen or _excluded(rel, settings.exclude):
                continue
            seen.add(rel)
            if path.is_symlink():
                skipped.append(Skipped(rel, "symbolic link (not followed)"))
            else:
                files.append((path, rel))
    return files, skipped


def _run_outputs(root: Path, ctx: StepContext) -> list[tuple[Path, str]]:
    """Files that earlier steps of this pipeline run wrote next to this step's work folder."""
    own = ctx.workdir.resolve()
    run_dir = own.parent
    if run_dir.name != ctx.run_id or not run_dir.is_relative_to(root) or not run_dir.is_dir():
        return []  # an ad-hoc scan (temporary work folder): nothing of a run to look at
    out: list[tuple[Path, str]] = []
    for path in _walk(run_dir, root, []):
        if not path.is_symlink() and path.is_file() and not path.is_relative_to(own):
            out.append((path, _rel(path, root)))
    return out


def _walk(start: Path, root: Path, exclude: list[str]) -> Iterator[Path]:
    if start.is_file():
        yield start
        return
    for dirpath, dirnames, filenames in os.walk(start, followlinks=False):
        base = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not _excluded(_rel(base / d, root), exclude))
        for d in dirnames:
            if (base / d).is_symlink():
                yield base / d
        for name in sorted(filenames):
            yield base / name


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
