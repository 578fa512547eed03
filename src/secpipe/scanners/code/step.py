"""The ``scan-code`` step kind: Python files and notebook code cells, parsed (never imported or
run), checked by secpipe's ML/LLM rule pack and by bandit's tests.

Files come from the scanner walker: ``*.py``, ``*.pyw``, extension-less files that start with a
``#!…python`` line, and Jupyter notebooks (``*.ipynb``, code cells only, findings located by
``cell[N]``). A small tree is analysed in-process; a large one (or any file big enough to be
slow) by worker processes, each file under ``max_seconds_per_file`` (:mod:`.pool`). See
``docs/code-scanner.md``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator
from contextlib import closing
from types import ModuleType
from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from secpipe import __version__
from secpipe.core.errors import ConfigError, StepError
from secpipe.core.findings import Finding, Severity
from secpipe.core.results import Skipped, StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind
from secpipe.scanners.base import MIB, ScannerSettings, collect_files, metavar
from secpipe.scanners.code import source
from secpipe.scanners.walk import UNREADABLE, FileEntry, unreadable

if TYPE_CHECKING:
    from secpipe.scanners.code.engine import FileResult, Options

#: Below this many bytes of source in all, analysing in-process beats starting workers.
POOL_MIN_BYTES = 1 * MIB
#: A file this large goes to a worker (which can be killed when its budget is spent) even in a
#: small tree; smaller files finish in well under a second.
INPROCESS_MAX_FILE_BYTES = 256 * 1024


class CodeSettings(ScannerSettings):
    """``with:`` settings of ``scan-code`` (paths, excludes and ``max_file_bytes``: the scanner
    base)."""

    max_file_bytes: int = Field(default=5 * MIB, gt=0, json_schema_extra=metavar("N"))
    """Largest Python source file analysed; a larger one gets a code.too-large finding (an
    error when it was named explicitly)."""
    max_notebook_bytes: int = Field(default=64 * MIB, gt=0, json_schema_extra=metavar("N"))
    """Largest notebook read (outputs included; only code cells are analysed)."""
    max_seconds_per_file: float = Field(default=60.0, gt=0, json_schema_extra=metavar("SECONDS"))
    """Wall-clock budget per file in worker processes; a file that needs more gets a
    code.budget-exceeded finding."""
    bandit: bool = True
    """Also run bandit's tests (the standard Python SAST checks) on every file."""
    skip_rules: list[str] = Field(default_factory=list, json_schema_extra=metavar("RULE"))
    """Rule ids not to run or report: secpipe's (code.torch-load-unsafe) or bandit's (B101 or
    code.bandit.B101); findings about the analysis itself cannot be skipped."""
    min_severity: str = Field(default="info", json_schema_extra=metavar("SEVERITY"))
    """Drop rule findings below this severity (info, low, medium, high, critical)."""
    workers: int = Field(default=0, ge=0, json_schema_extra=metavar("N"))
    """Worker processes for large trees (0: one per CPU; 1: in-process unless a file is
    large)."""

    @field_validator("min_severity")
    @classmethod
    def _severity(cls, value: str) -> str:
        return Severity.parse(value).value


class CodeScanStep(StepKind[CodeSettings]):
    """SAST of Python code and notebooks: secpipe's ML/LLM rules plus bandit's tests."""

    kind = "scan-code"
    summary = ("Python code and notebooks (SAST): ML/LLM rules (unsafe model loading, LLM output "
               "into sinks, remote code) plus bandit's tests")
    Settings = CodeSettings
    produces_metrics = ("files_scanned", "lines_scanned", "findings", "findings_*",
                        "files_incomplete", "duration_seconds")

    def run(self, ctx: StepContext, settings: CodeSettings) -> StepResult:
        from secpipe.scanners.code.engine import SOURCES, Options, load_rule_pack

        started = time.monotonic()
        root = ctx.project_root.resolve()
        rules = load_rule_pack()
        options = Options(bandit=settings.bandit, skip=_skip_ids(settings.skip_rules, rules),
                          min_severity=Severity.parse(settings.min_severity),
                          max_file_bytes=settings.max_file_bytes,
                          max_notebook_bytes=settings.max_notebook_bytes)
        skipped: list[Skipped] = []
        entries = collect_files(root, settings, skipped)
        files = _python_files(entries, skipped)
        findings = [_unreadable(s) for s in unreadable(skipped)]
        if not files and not findings:
            return StepResult(status=StepStatus.SKIPPED, skipped=tuple(skipped),
                              message="nothing found: no Python files or notebooks to analyse",
                              tool=f"secpipe {__version__}")
        counts = dict.fromkeys(SOURCES, 0)
        counts["incomplete"] = len(findings)
        failed: list[str] = []
        scanned = lines = incomplete = 0
        results = _analyse(ctx, files, options, settings, rules)
        try:
            for entry, res in results:
                scanned += 1
                lines += res.lines
                findings.extend(res.findings)
                skipped.extend(res.skipped)
                for key, n in res.counts.items():
                    counts[key] = counts.get(key, 0) + n
                if res.problem:
                    incomplete += 1
                    skipped.append(Skipped(entry.rel, res.problem))
                    if entry.explicit:
                        failed.append(f"{entry.rel}: {res.problem}")
        finally:
            results.close()  # an exception in this loop must not leave workers running
        findings.sort(key=_order)
        metrics: dict[str, float] = {
            "files_scanned": float(scanned), "lines_scanned": float(lines),
            "findings": float(len(findings)), "files_incomplete": float(incomplete),
            **{f"findings_{k}": float(v) for k, v in counts.items()},
            "duration_seconds": round(time.monotonic() - started, 3),
        }
        message = (f"{len(findings)} finding{'s' if len(findings) != 1 else ''} in {scanned} "
                   f"file{'s' if scanned != 1 else ''} ({lines} lines)")
        status = StepStatus.PASSED
        if failed:  # a file the user named could not be analysed: the step did not complete
            status = StepStatus.ERROR
            message = failed[0] + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else "")
        tool = f"secpipe {__version__}"
        if settings.bandit:
            from secpipe.scanners.code.bandit_run import bandit_version

            tool += f" + bandit {bandit_version()}"
        return StepResult(status=status, findings=tuple(findings), metrics=metrics,
                          skipped=tuple(skipped), message=message, tool=tool)


def _order(finding: Finding) -> tuple[str, str, int, int, str]:
    loc = finding.location
    return (loc.path, loc.member or "", loc.line or 0, loc.column or 0, finding.rule_id)


def _skip_ids(given: list[str], rules: ModuleType) -> frozenset[str]:
    """The ids of ``skip_rules``, checked: each names a rule of the pack or a bandit test."""
    from secpipe.scanners.code.bandit_run import known_tests
    from secpipe.scanners.code.engine import BANDIT_PREFIX
    from secpipe.scanners.code.meta import META_RULES

    ours = set(getattr(rules, "RULES", {}))
    tests = known_tests()
    out: set[str] = set()
    for text in given:
        name = text.strip()
        bare = name.removeprefix(BANDIT_PREFIX)
        if name in META_RULES:
            raise ConfigError(f"skip_rules: {name!r} reports what could not be analysed and "
                              "cannot be skipped (exclude the file instead)")
        if name in ours:
            out.add(name)
        elif bare in tests:
            out.add(BANDIT_PREFIX + bare)
            out.add(bare)
        else:
            raise ConfigError(f"skip_rules: unknown rule {name!r} (a secpipe code rule id, or "
                              "a bandit test id such as B101)")
    return frozenset(out)


def _kind(entry: FileEntry) -> str | None:
    kind = source.kind_by_name(entry.rel.rsplit("/", 1)[-1])
    if kind is not None:
        return kind
    name = entry.rel.rsplit("/", 1)[-1]
    if ("." in name.lstrip(".") and not entry.explicit) or entry.size < 3:
        return None
    try:  # an extension-less script: is it Python by its #! line?
        with open(entry.path, "rb", buffering=0) as fh:
            head = fh.read(source.SHEBANG_PROBE_BYTES)
    except OSError:
        return None
    return "py" if source.is_python_shebang(head) else None


def _python_files(entries: list[FileEntry], skipped: list[Skipped]) -> list[tuple[FileEntry,
                                                                                    str]]:
    files: list[tuple[FileEntry, str]] = []
    for entry in entries:
        kind = _kind(entry)
        if kind is not None:
            files.append((entry, kind))
        elif entry.explicit:
            skipped.append(Skipped(entry.rel, "not Python source or a notebook"))
    return files


def _unreadable(item: Skipped) -> Finding:
    from secpipe.scanners.code.meta import meta_finding

    reason = item.reason.removeprefix(UNREADABLE)
    return meta_finding("code.unreadable", item.path, f"not analysed: unreadable: {reason}")


def _analyse(ctx: StepContext, files: list[tuple[FileEntry, str]], options: Options,
             settings: CodeSettings,
             rules: ModuleType) -> Generator[tuple[FileEntry, FileResult], None, None]:
    """(entry, result) of every file: too-large ones without reading them, small trees
    in-process, large trees and large files in worker processes under the time budget."""
    from secpipe.scanners.code.engine import Analyser, too_large

    total, done, next_report = len(files), 0, 0.0
    work: list[tuple[FileEntry, str]] = []
    for entry, kind in files:
        limit = options.limit(kind)
        if entry.size > limit:
            done += 1
            setting = "max_notebook_bytes" if kind == "ipynb" else "max_file_bytes"
            yield entry, too_large(entry.rel, entry.size, limit, setting)
        else:
            work.append((entry, kind))
    workers = settings.workers or os.cpu_count() or 1
    if workers > 1 and sum(e.size for e, _ in work) >= POOL_MIN_BYTES:
        pooled, local = work, []
    else:
        pooled = [w for w in work if w[0].size > INPROCESS_MAX_FILE_BYTES]
        local = [w for w in work if w[0].size <= INPROCESS_MAX_FILE_BYTES]
    if local:
        analyser = Analyser(options, rules)
        for entry, kind in local:
            if ctx.cancel.is_set():
                raise StepError("scan-code: cancelled")
            if time.monotonic() >= next_report:  # a few updates a second, not one per file
                ctx.progress(done, total, entry.rel)
                next_report = time.monotonic() + 0.25
            yield entry, analyser.analyse(entry.path, entry.rel, kind)
            done += 1
    if pooled:
        from secpipe.scanners.code.pool import Task, WorkerPool

        pooled.sort(key=lambda w: -w[0].size)  # the largest first: the last to finish is small
        by_index = {i: entry for i, (entry, _) in enumerate(pooled)}
        tasks = [Task(i, entry.path, entry.rel, kind) for i, (entry, kind) in enumerate(pooled)]
        pool = WorkerPool(min(max(workers, 1), len(tasks)), options,
                          settings.max_seconds_per_file, ctx.cancel)
        ctx.progress(done, total, f"starting {pool.size} worker process(es)")
        with closing(pool.run(tasks)) as results:  # the workers end here, whatever happens
            for task, res in results:
                done += 1
                if time.monotonic() >= next_report:
                    ctx.progress(done, total, task.rel)
                    next_report = time.monotonic() + 0.25
                yield by_index[task.index], res
    ctx.progress(total, total, "done")
