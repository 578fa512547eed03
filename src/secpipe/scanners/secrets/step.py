"""The ``scan-secrets`` step kind: leaked credentials in files, notebooks, archives, git history."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, cast

from pydantic import Field

from secpipe import __version__
from secpipe.core.errors import StepError
from secpipe.core.findings import Finding
from secpipe.core.results import Skipped, StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind
from secpipe.scanners.base import MIB, ArchiveScannerSettings, collect_files, metavar
from secpipe.scanners.secrets import findings as mk
from secpipe.scanners.secrets.archives import Limits
from secpipe.scanners.secrets.cache import ScanCache, StatKey, trusted
from secpipe.scanners.secrets.engine import FileScan, scan_batch
from secpipe.scanners.walk import (
    SECRETS_DEFAULT_EXCLUDES,
    UNREADABLE,
    Excluder,
    FileEntry,
    unreadable,
)

if TYPE_CHECKING:
    from concurrent.futures import Future

#: Below this much work, scanning in-process beats starting worker processes.
_POOL_MIN_BYTES = 16 * MIB
_BATCH_BYTES = 4 * MIB
_BATCH_FILES = 256
_HELD = {signal.SIGINT, signal.SIGTERM}


class SecretsSettings(ArchiveScannerSettings):
    """``with:`` settings of ``scan-secrets`` (paths, excludes and budgets: the scanner base)."""

    history: bool = False
    """Also scan every commit of git history (the lines each commit added)."""
    cache: bool = True
    """Reuse results of unchanged files (content-addressed, under the cache folder)."""
    max_file_bytes: int = Field(default=25 * MIB, gt=0, json_schema_extra=metavar("N"))
    """Largest file (or archive member) read whole; a larger one is scanned in its head and
    reported (an error when the file was named explicitly)."""
    max_history_bytes: int = Field(default=2048 * MIB, gt=0, json_schema_extra=metavar("N"))
    """Most bytes of git log -p output read."""
    workers: int = Field(default=0, ge=0, json_schema_extra=metavar("N"))
    """Worker processes (0: one per CPU)."""

    def excludes(self) -> list[str]:
        """The defaults, except that secpipe's state folder is scanned too (a private key left
        in ``.secpipe/`` is a leak like any other; secpipe's databases are binary, hence skipped
        by content), plus ``exclude``."""
        return [*(SECRETS_DEFAULT_EXCLUDES if self.default_excludes else ()), *self.exclude]


class SecretsScanStep(StepKind[SecretsSettings]):
    """Finds leaked credentials (83 rules): validated, redacted, cached, in parallel."""

    kind = "scan-secrets"
    summary = "leaked credentials in files, notebooks, archives and git history"
    Settings = SecretsSettings
    produces_metrics = (
        "secrets_found", "files_*", "duration_seconds", "cache_hits",
        "bytes_scanned", "commits_scanned", "history_*",
    )

    def run(self, ctx: StepContext, settings: SecretsSettings) -> StepResult:
        started = time.monotonic()
        root = ctx.project_root.resolve()
        skipped: list[Skipped] = []
        files = collect_files(root, settings, skipped)
        limits = Limits(settings.max_file_bytes, settings.max_archive_depth,
                        settings.max_archive_bytes, settings.max_archive_members)
        cache = _open_cache(ctx, settings)
        # a folder or entry the walker could not read is a finding, as an unreadable file is
        findings = [mk.unreadable(s.path, s.reason.removeprefix(UNREADABLE))
                    for s in unreadable(skipped)]
        in_tree: set[tuple[str, str]] = set()  # (path, secret hash) found in the working tree
        failed: list[str] = []  # files named explicitly that could not be (fully) scanned
        stats = {"files_scanned": 0, "bytes_scanned": 0, "cache_hits": 0}
        scans = _scan_files(ctx, str(root), files, limits, cache, settings.workers, stats)
        try:
            for entry, scan, error in scans:
                findings.extend(mk.file_findings(entry.rel, scan, error, skipped))
                if entry.explicit and (error or scan.truncated_size):
                    failed.append(f"{entry.rel}: " + (f"unreadable: {error}" if error else
                                  f"too large ({scan.truncated_size} bytes, limit "
                                  f"{settings.max_file_bytes}): only its head was scanned"))
                in_tree.update((entry.rel, hit.key) for hit in scan.hits)
            metrics: dict[str, float] = {k: float(v) for k, v in stats.items()}
            if settings.history:
                findings.extend(_history(ctx, root, settings, in_tree, cache, metrics))
        finally:
            scans.close()  # an exception here must not leave the worker pool to the collector
            if cache is not None:
                cache.close()
        findings = mk.dedupe(findings)
        secrets = sum(1 for f in findings if f.rule_id not in mk.META_RULES)
        metrics["secrets_found"] = float(secrets)
        metrics["files_skipped"] = float(len(skipped))
        metrics["duration_seconds"] = round(time.monotonic() - started, 3)
        message = (f"{secrets} secret{'s' if secrets != 1 else ''} in "
                   f"{stats['files_scanned']} files" + (" and git history" if settings.history
                                                         else ""))
        status = StepStatus.PASSED
        if failed:  # a file the user named could not be scanned: the step did not complete
            status = StepStatus.ERROR
            message = failed[0] + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else "")
        return StepResult(status=status, findings=tuple(findings), metrics=metrics,
                          skipped=tuple(skipped), message=message, tool=f"secpipe {__version__}")


def _history(ctx: StepContext, root: Path, settings: SecretsSettings,
             in_tree: set[tuple[str, str]], cache: ScanCache | None,
             metrics: dict[str, float]) -> list[Finding]:
    """Findings of git history, minus excluded paths and secrets already found in the tree."""
    from secpipe.scanners.secrets.history import scan_history

    excluder = Excluder(settings.excludes())
    hist = scan_history(root, max_bytes=settings.max_history_bytes,
                        max_block=settings.max_file_bytes, cancel=ctx.cancel,
                        progress=lambda n: ctx.progress(n, None, "commits"),
                        timeout=ctx.timeout, cache=cache)
    hist.hits = [h for h in hist.hits if not excluder.path_excluded(h[1])
                 and (h[1], h[2].key) not in in_tree]
    metrics["commits_scanned"] = float(hist.commits)
    metrics["history_cache_hits"] = float(hist.cached_commits)
    metrics["history_bytes_scanned"] = float(hist.bytes_read)
    return mk.history_findings(hist)


def _open_cache(ctx: StepContext, settings: SecretsSettings) -> ScanCache | None:
    if not settings.cache or ctx.cache_dir is None:
        return None
    try:
        return ScanCache(ctx.cache_dir)
    except OSError as exc:  # an unusable cache folder only costs speed
        ctx.log(f"secrets cache disabled: {exc}")
        return None
    except Exception as exc:  # sqlite3 errors: same
        ctx.log(f"secrets cache disabled: {type(exc).__name__}")
        return None


def _scan_files(ctx: StepContext, prefix: str, files: list[FileEntry], limits: Limits,
                cache: ScanCache | None, workers: int,
                stats: dict[str, int]) -> Generator[tuple[FileEntry, FileScan, str], None, None]:
    total = len(files)
    done = 0
    todo: list[FileEntry] = []
    if cache is not None:
        known = cache.known(prefix)
        fast = {f.path: known[f.path][1] for f in files
                if f.path in known and trusted(known[f.path], _key(f))}
        cached = cache.results(fast.values())
        for entry in files:
            digest = fast.get(entry.path)
            if digest is not None and digest in cached:
                stats["cache_hits"] += 1
                stats["files_scanned"] += 1
                stats["bytes_scanned"] += entry.size
                done += 1
                yield entry, cached[digest], ""
            else:
                todo.append(entry)
    else:
        todo = files
    ctx.progress(done, total, "files")
    db = str(cache.path) if cache is not None else None
    fresh: list[tuple[str, StatKey, FileScan]] = []
    with closing(_run(ctx, todo, limits, db, workers)) as results:  # the pool ends here
        for entry, (scan, from_cache, error) in results:
            done += 1
            if not error:
                stats["files_scanned"] += 1
                stats["bytes_scanned"] += entry.size
                stats["cache_hits"] += from_cache
                if not scan.truncated_size and scan.digest:  # no digest: removed meanwhile
                    fresh.append((entry.path, _key(entry), scan))
            if done % 200 == 0 or done == total:
                ctx.progress(done, total, "files")
            yield entry, scan, error
    if cache is not None and fresh:
        try:
            cache.store(fresh)
        except Exception as exc:  # a full disk or a locked cache must not fail the scan
            ctx.log(f"secrets cache not updated: {type(exc).__name__}")


def _key(entry: FileEntry) -> StatKey:
    return (entry.size, entry.mtime_ns, entry.ino)


def _batches(files: list[FileEntry]) -> Iterator[list[FileEntry]]:
    batch: list[FileEntry] = []
    size = 0
    for entry in files:
        batch.append(entry)
        size += entry.size
        if size >= _BATCH_BYTES or len(batch) >= _BATCH_FILES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _run(ctx: StepContext, files: list[FileEntry], limits: Limits, db: str | None,
         workers: int) -> Generator[tuple[FileEntry, tuple[FileScan, bool, str]], None, None]:
    workers = workers or os.cpu_count() or 1
    total_bytes = sum(f.size for f in files)
    if workers <= 1 or total_bytes < _POOL_MIN_BYTES or len(files) < 2:
        for batch in _batches(files):
            _check_cancel(ctx)
            yield from zip(batch, scan_batch([f.path for f in batch], limits, db), strict=True)
        return
    import multiprocessing  # a pool only for large scans: a one-file scan starts faster
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    spawn = multiprocessing.get_context("spawn")
    with _signals_held():
        tracker = _tracker_started_here()
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=spawn,
                                   initializer=_worker_init)
    pending: dict[Future[list[tuple[FileScan, bool, str]]], list[FileEntry]] = {}

    def submit(batch: list[FileEntry]) -> None:
        with _signals_held():  # a submit may start a worker process
            pending[pool.submit(scan_batch, [f.path for f in batch], limits, db)] = batch

    try:
        batches = _batches(files)
        for batch in batches:
            submit(batch)
            if len(pending) >= workers * 3:
                break
        while pending:
            finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            _check_cancel(ctx)
            for future in finished:
                batch = pending.pop(future)
                yield from zip(batch, future.result(), strict=True)
                nxt = next(batches, None)
                if nxt is not None:
                    submit(nxt)
    finally:
        # every exit (done, an error, cancel, close() of this generator on an exception in the
        # consumer, Ctrl-C, SIGTERM made an exception by the CLI): batches not started are
        # dropped, the running ones finish (a batch is a few MiB), and every worker is joined
        # before the step returns, so none outlives secpipe
        with _signals_held():
            pool.shutdown(wait=True, cancel_futures=True)  # drops its queues (and semaphores)
            tracker()


@contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait while worker processes start or stop: the exception they become
    (``KeyboardInterrupt``, ``Terminated``) would otherwise land in the middle of starting a
    worker, which then waits for its parent and its parent for it, forever. They are delivered
    when the block ends (CPython's resource tracker is started the same way)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _tracker_started_here() -> Callable[[], None]:
    """A function that stops multiprocessing's resource tracker process if the pool about to
    be made starts it (the tracker would otherwise outlive secpipe, briefly, in its process
    group); a tracker that was running already is left alone."""
    from multiprocessing import resource_tracker

    tracker = resource_tracker._resource_tracker
    stop = getattr(tracker, "_stop", None)  # private, present in CPython 3.8 to 3.14
    if getattr(tracker, "_fd", 0) is not None or stop is None:
        return lambda: None
    return cast(Callable[[], None], stop)


def _worker_init() -> None:
    """In a worker: Ctrl-C is the parent's to handle (it stops the pool; a worker that took it
    too would die mid-batch with a traceback of its own); SIGTERM, held while the parent
    started it, kills it again."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)


def _check_cancel(ctx: StepContext) -> None:
    if ctx.cancel.is_set():
        raise StepError("scan-secrets: cancelled")
