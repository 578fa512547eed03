"""The scanning engine: content-typed dispatch of a file (or an inner blob) to its reader.

:meth:`ModelScanner.scan_file` memory-maps a file (so tensor bytes are never read), types it by
content (:func:`~.sniff.sniff`) and hands it to the reader of its format; containers hand their
members back to :meth:`ModelScanner.scan_blob` one level deeper. Every bound (depth, member count,
bytes read, time) that stops the analysis becomes a ``models.scan-incomplete`` finding, and a
blob whose typing ran out of budget a ``models.undecided`` one: both high, never a silent pass.

:func:`scan_tree` is the whole ``scan-models`` step on plain values (:class:`ModelScanOptions`):
the step converts its pydantic settings into them (:meth:`ModelScanOptions.from_values`), and
``secpipe scan models FILE`` builds them from its options without pydantic (same values, same
result).
"""

from __future__ import annotations

import mmap
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from secpipe import __version__
from secpipe.core.findings import Finding, Severity
from secpipe.core.results import Skipped, StepResult, StepStatus
from secpipe.scanners.models import candidates
from secpipe.scanners.models.pickle_scan import PickleOptions, looks_like_pickle, scan_pickles
from secpipe.scanners.models.pickle_vm import OPCODES, Buf, VMBudget
from secpipe.scanners.models.report import Collector, Where
from secpipe.scanners.models.sniff import UNDECIDED, sniff
from secpipe.scanners.models.zipread import find_eocd
from secpipe.scanners.walk import DEFAULT_EXCLUDES, UNREADABLE, FileEntry, collect, unreadable

if TYPE_CHECKING:
    from secpipe.core.step import StepContext


PROTOBUF_FIRST_BYTES = frozenset((0x08, 0x0A, 0x12))
"""First bytes of the only protobufs :func:`~.savedmodel.scan_other_protobuf` reads (a test
checks that it reads no other)."""
CONFIG_SUFFIXES = (".yaml", ".yml", ".json")
"""Every config name :func:`~.configs.is_config_name` accepts ends so (a test checks it)."""


@dataclass(frozen=True)
class Budgets:
    """Per-file bounds of the analysis."""

    max_depth: int = 6
    """Container nesting depth (archive in archive in …)."""
    max_members: int = 100_000
    """Members listed per archive."""
    max_member_bytes: int = 1 << 30
    """Largest member (or decompressed stream) read into memory for analysis."""
    max_total_bytes: int = 4 << 30
    """Bytes decompressed or copied per file, all members together."""
    max_seconds: float = 60.0
    """Wall-clock time per file."""
    max_ops: int = 50_000_000
    """Pickle opcodes per stream."""
    max_stack: int = 2_000_000
    """Pickle stack and memo entries."""
    bomb_ratio: float = 200.0
    """Compression ratio above which a large member is a bomb."""


@dataclass(frozen=True)
class FileReport:
    """What scanning one file produced."""

    findings: list[Finding]
    """Its findings."""
    formats: set[str]
    """Model formats recognised in it (empty: not a model file)."""
    bytes_read: int
    """Bytes actually read or decompressed."""


@dataclass
class Scan:
    """Mutable state of one file's scan."""

    coll: Collector
    """Findings and formats collected so far."""
    deadline: float
    """``time.monotonic()`` after which the file's analysis stops (a finding says so)."""
    root_dir: Path | None
    """Folder of the file on disk (None for in-memory blobs)."""
    bytes_read: int = 0
    """Bytes read, decompressed or copied so far (the byte budgets count these)."""


class ModelScanner:
    """Scans files for code hidden in serialized models (never loads them)."""

    def __init__(self, budgets: Budgets | None = None, allow: frozenset[str] = frozenset()) -> None:
        self.budgets = budgets or Budgets()
        self.allow = allow

    def pickle_options(self, scan: Scan) -> PickleOptions:
        b = self.budgets
        return PickleOptions(allow=self.allow, budget=VMBudget(
            max_ops=b.max_ops, max_stack=b.max_stack, max_memo=b.max_stack,
            max_items=b.max_stack * 4, deadline=scan.deadline),
            max_nested_bytes=b.max_member_bytes)

    def scan_file(self, path: Path, rel: str) -> FileReport:
        """Scan one file; ``rel`` is how findings name it."""
        scan = Scan(Collector(), time.monotonic() + self.budgets.max_seconds, path.parent)
        where = Where(rel)
        size = path.stat().st_size
        if size == 0:
            return FileReport([], set(), 0)
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            self.scan_blob(mm, where, scan, file_path=path)
            candidates.account(mm, where, scan.coll)  # a loader's file nothing identified
        return self._finish(scan, where)

    def scan_bytes(self, data: bytes, name: str) -> FileReport:
        """Scan an in-memory blob as if it were a file called ``name``."""
        scan = Scan(Collector(), time.monotonic() + self.budgets.max_seconds, None)
        if data:
            self.scan_blob(data, Where(name), scan)
        return self._finish(scan, Where(name))

    def _finish(self, scan: Scan, where: Where) -> FileReport:
        coll = scan.coll
        if coll.pickle_streams:
            fmts = ", ".join(sorted(f for f in coll.formats if f not in ("zip", "nested")))
            flagged = any(f.rule_id.startswith("models.pickle.") for f in coll.findings)
            coll.add("models.pickle.unsafe-format", Severity.INFO, where.typed(fmts),
                     f"pickle-based model ({fmts}): loading it runs whatever its pickle streams "
                     f"say; {coll.pickle_streams} stream(s) analysed"
                     + ("" if flagged else ", no callable outside the allowlist found"),
                     key="format")
        return FileReport(coll.findings, coll.formats, scan.bytes_read)

    def scan_blob(self, buf: Buf, where: Where, scan: Scan, file_path: Path | None = None) -> None:
        """Type ``buf`` by content and run its reader."""
        if where.depth > self.budgets.max_depth:
            scan.coll.incomplete(where, f"nesting deeper than {self.budgets.max_depth} levels")
            return
        if time.monotonic() > scan.deadline:
            scan.coll.incomplete(where, f"time budget of {self.budgets.max_seconds:g}s exhausted")
            return
        kind = sniff(buf)
        if kind is None:
            # the readers of what content typing leaves over are imported only for a blob that
            # could be theirs (a one-file scan of a text file loads neither, nor YAML)
            if buf and buf[0] in PROTOBUF_FIRST_BYTES:
                from secpipe.scanners.models.savedmodel import scan_other_protobuf

                if scan_other_protobuf(buf, where, scan.coll):  # fingerprint.pb, GraphDef
                    return
            if (where.member or where.path).lower().endswith(CONFIG_SUFFIXES):
                from secpipe.scanners.models import configs  # imports a YAML parser

                if configs.is_config_name(configs.base_name(where), where.member is not None):
                    configs.scan_config(buf, where, scan.coll, self.allow)  # YAML configs
            return
        if kind in UNDECIDED:  # typing ran out of budget: never "not a model"
            scan.coll.undecided(where, UNDECIDED[kind])
            return
        self.dispatch(kind, buf, where, scan, file_path)
        # polyglots: two loaders may see two formats in one blob, so each is scanned
        if kind not in ("pickle", "zip") and buf[0] in OPCODES \
                and looks_like_pickle(buf, plain=False):
            # a magic that is also pickle opcodes (GGUF's is BINFLOAT): pickle.load runs it
            # (a ZIP's "PK" is PERSID, which a plain unpickler refuses; loaders open it as zip)
            self.dispatch("pickle", buf, where, scan, file_path)
        if kind != "zip" and find_eocd(buf) >= 0:
            # an archive after other data: zip readers (zipfile, Keras) open it from its end,
            # a pickle loader reads the data before it
            from secpipe.scanners.models.archives import scan_zip

            scan_zip(self, buf, where, scan)

    def dispatch(self, kind: str, buf: Buf, where: Where, scan: Scan,
                 file_path: Path | None) -> None:
        # a reader is imported when its format is first met: a one-file scan (a pre-commit
        # hook's) loads only the readers its file needs
        coll = scan.coll
        if kind == "pickle":
            fmt = where.fmt if where.fmt in ("pytorch-zip", "joblib", "torchscript") else "pickle"
            opts = self.pickle_options(scan)
            if fmt == "torchscript":  # __torch__.* classes are compiled from code/ (analysed)
                from secpipe.scanners.models.callables import TORCHSCRIPT_CLASSES

                opts = replace(opts, allow=opts.allow | TORCHSCRIPT_CLASSES)
            scan_pickles(buf, where.typed(fmt), coll, opts,
                         lambda blob, w: self.nested(blob, w, scan))
        elif kind == "npy":
            from secpipe.scanners.models import formats

            formats.scan_npy(buf, where.typed("numpy"), coll, self.pickle_options(scan),
                             lambda blob, w: self.nested(blob, w, scan))
        elif kind == "safetensors":
            from secpipe.scanners.models import formats

            formats.scan_safetensors(buf, where.typed("safetensors"), coll)
        elif kind == "gguf":
            from secpipe.scanners.models import formats

            formats.scan_gguf(buf, where.typed("gguf"), coll)
        elif kind == "onnx":
            from secpipe.scanners.models import tf_onnx

            tf_onnx.scan_onnx(buf, where.typed("onnx"), coll,
                              file_path.parent if file_path is not None else None)
        elif kind == "savedmodel":
            from secpipe.scanners.models import tf_onnx

            tf_onnx.scan_savedmodel(buf, where.typed("savedmodel"), coll)
        elif kind == "savedmodel-text":
            from secpipe.scanners.models import tf_onnx

            tf_onnx.scan_savedmodel_text(buf, where.typed("savedmodel-text"), coll)
        elif kind == "keras-metadata":
            from secpipe.scanners.models import tf_onnx

            tf_onnx.scan_keras_metadata(buf, where.typed("keras"), coll)
        elif kind == "json":
            from secpipe.scanners.models import configs, keras_fmt

            if buf.find(b'"class_name"', 0, 1 << 16) >= 0:  # else a data file: not parsed
                keras_fmt.scan_json_config(buf, where.typed("keras"), coll)
            configs.scan_config(buf, where, coll, self.allow)  # instantiation keys, auto_map
        elif kind == "hdf5":
            from secpipe.scanners.models import keras_fmt

            keras_fmt.scan_hdf5(buf, where.typed("keras-h5"), coll, file_path,
                                self.budgets.max_member_bytes,
                                max(1.0, scan.deadline - time.monotonic()))
        elif kind == "zip":
            from secpipe.scanners.models import archives

            archives.scan_zip(self, buf, where, scan)
        elif kind == "tar":
            from secpipe.scanners.models import archives

            archives.scan_tar(self, buf, where, scan)
        elif kind == "7z":
            from secpipe.scanners.models import archives

            archives.scan_7z(self, buf, where, scan)
        else:
            from secpipe.scanners.models import archives

            archives.scan_compressed(self, kind, buf, where, scan)

    def nested(self, blob: bytes, where: Where, scan: Scan) -> None:
        """Scan a pickle (or any model blob) found inside another one."""
        scan.bytes_read += len(blob)
        self.scan_blob(blob, replace(where, fmt="nested"), scan)


@dataclass(frozen=True)
class ModelScanOptions:
    """What a ``scan-models`` step does, as plain values (``ModelScanSettings`` validated)."""

    paths: tuple[str, ...]
    """Files or folders to scan, relative to the project root."""
    excludes: tuple[str, ...]
    """Exclude globs in force (the defaults, unless turned off, plus the user's)."""
    max_file_bytes: int
    """Larger files are reported, not scanned; 0: no limit."""
    allow: frozenset[str]
    """Pickle callables treated as safe."""
    run_outputs: bool
    """Also scan what earlier steps of the run wrote."""
    budgets: Budgets
    """Per-file bounds of the analysis."""

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> ModelScanOptions:
        """From the settings' field values (``model_dump()``, or the same values built from the
        command line's options)."""
        defaults = DEFAULT_EXCLUDES if values["default_excludes"] else ()
        return cls(
            paths=tuple(values["paths"]), excludes=(*defaults, *values["exclude"]),
            max_file_bytes=values["max_file_bytes"], allow=frozenset(values["allow"]),
            run_outputs=values["run_outputs"],
            budgets=Budgets(
                max_depth=values["max_archive_depth"],
                max_members=values["max_archive_members"],
                max_member_bytes=values["max_member_bytes"],
                max_total_bytes=values["max_archive_bytes"],
                max_seconds=values["max_seconds_per_file"]))


def scan_tree(ctx: StepContext, options: ModelScanOptions) -> StepResult:
    """Scan the files ``options`` names under ``ctx.project_root``: the ``scan-models`` step."""
    root = ctx.project_root.resolve()
    scanner = ModelScanner(options.budgets, options.allow)
    skipped: list[Skipped] = []
    files = collect(root, list(options.paths), list(options.excludes), skipped)
    if options.run_outputs:
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
        if options.max_file_bytes and entry.size > options.max_file_bytes:
            problem = f"too large ({entry.size} bytes, limit {options.max_file_bytes})"
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
