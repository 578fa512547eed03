"""``secpipe scan KIND PATH``: run one scanner step on a path, outside any pipeline.

Each scanner is one entry of :data:`SCANNERS`: the step kind it runs, the options it adds and how
they map onto the kind's settings. The result is rendered like a run (table, JSON, or any report
format with ``--format``/``--output``) and the exit code says whether anything was found.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from secpipe import __version__
from secpipe.cli.render import ConsoleSink, findings_table
from secpipe.cli.scan_remote import fetch, is_store_uri, relocate
from secpipe.core.errors import InputError
from secpipe.core.events import Event
from secpipe.core.findings import Severity
from secpipe.core.registry import load_kind
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext
from secpipe.pipeline.validation import validate_settings
from secpipe.reports import FORMATS, write_report
from secpipe.runstore.records import RunRecord, StageRecord, StepRecord


@dataclass(frozen=True)
class ScanCommand:
    """One ``secpipe scan`` subcommand."""

    kind: str
    """Step kind it runs."""
    help: str
    """One-line help."""
    add_options: Callable[[argparse.ArgumentParser], None]
    """Adds the scanner's own options."""
    settings: Callable[[argparse.Namespace, list[str]], dict[str, Any]]
    """Builds the ``with:`` settings from the options and the paths (relative to the root)."""


def _secrets_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--history", action="store_true", help="also scan every commit of git history")
    p.add_argument("--no-cache", action="store_true", help="do not use the content cache")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="also skip paths matching GLOB (repeatable; NAME/ matches a folder)")
    p.add_argument("--max-file-bytes", type=int, metavar="N",
                   help="largest file read whole (default 25 MiB; larger: head only, reported)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes (default: one per CPU)")


def _secrets_settings(args: argparse.Namespace, paths: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {"paths": paths, "history": args.history, "cache": not args.no_cache}
    if args.exclude:
        data["exclude"] = args.exclude
    if args.max_file_bytes is not None:
        data["max_file_bytes"] = args.max_file_bytes
    if args.workers is not None:
        data["workers"] = args.workers
    return data


def _models_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="skip paths matching GLOB (repeatable; added to the defaults)")
    p.add_argument("--allow", action="append", default=[], metavar="MODULE.NAME",
                   help="treat this pickle callable as safe (repeatable)")
    p.add_argument("--max-file-bytes", type=int, default=0, metavar="N",
                   help="skip files larger than N bytes (default: no limit)")


def _models_settings(args: argparse.Namespace, paths: list[str]) -> dict[str, Any]:
    from secpipe.scanners.models.step import DEFAULT_EXCLUDE

    data: dict[str, Any] = {"paths": paths, "allow": args.allow,
                            "max_file_bytes": args.max_file_bytes}
    if args.exclude:
        data["exclude"] = [*DEFAULT_EXCLUDE, *args.exclude]
    return data


#: ``secpipe scan NAME`` -> how to run it. Keep in step with the registry of kinds.
SCANNERS: dict[str, ScanCommand] = {
    "secrets": ScanCommand("scan-secrets", "leaked credentials in files, notebooks, archives, "
                           "git history", _secrets_options, _secrets_settings),
    "models": ScanCommand("scan-models", "code hidden in model files (pickle, PyTorch, joblib, "
                          "NumPy, Keras, SavedModel, ONNX, GGUF, safetensors, archives)",
                          _models_options, _models_settings),
}


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("scan", help="run one scanner on a path")
    inner = p.add_subparsers(dest="scanner", metavar="SCANNER", required=True,
                             parser_class=type(p))
    for name, cmd in SCANNERS.items():
        sp = inner.add_parser(name, parents=[common], help=cmd.help, description=cmd.help)
        sp.add_argument("paths", nargs="+", metavar="PATH",
                        help="files or folders to scan, or one store URI (s3://bucket/prefix, "
                        "oci://host/repo, file:///path) whose objects are fetched and scanned")
        sp.add_argument("--insecure", action="store_true",
                        help="reach an oci:// registry over plain HTTP")
        sp.add_argument("--fail-on", default="low", metavar="SEVERITY",
                        help="exit 1 when a finding is at this severity or worse (default: low)")
        sp.add_argument("--format", choices=sorted(FORMATS), help="write a report in this format")
        sp.add_argument("-o", "--output", metavar="FILE",
                        help="report file (default: standard output)")
        cmd.add_options(sp)
        sp.set_defaults(func=run, scan_command=name)


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "secpipe"


def run(args: argparse.Namespace) -> int:
    cmd = SCANNERS[args.scan_command]
    try:
        fail_on = Severity.parse(args.fail_on)
    except ValueError as exc:
        raise InputError(f"--fail-on: {exc}") from None
    remote = [p for p in args.paths if is_store_uri(p)]
    if remote and len(args.paths) > 1:
        raise InputError("scan one store URI at a time, without local paths beside it")
    sink = ConsoleSink(quiet=args.quiet or args.json)
    with tempfile.TemporaryDirectory(prefix="secpipe-scan-") as work:
        if remote:
            root = Path(work) / "fetched"
            count = fetch(remote[0], root, insecure=args.insecure)
            sink(Event("step.log", "scan", {"step": args.scan_command,
                                            "message": f"fetched {count} object(s)"}))
            rel = ["."]
        else:
            paths = [Path(p) for p in args.paths]
            for p in paths:
                if not p.exists():
                    raise InputError(f"{p}: no such file or folder")
            root = Path(os.path.commonpath([p.resolve() if p.is_dir() else p.resolve().parent
                                            for p in paths]))
            rel = [os.path.relpath(p.resolve(), root) for p in paths]
        kind = load_kind(cmd.kind)
        settings = validate_settings(kind, cmd.settings(args, rel), f"scan {args.scan_command}")
        ctx = StepContext(
            project_root=root, workdir=Path(work), run_id="scan", pipeline="scan",
            step_id=args.scan_command,
            progress=lambda d, t, w: sink(Event("step.progress", "scan", {
                "step": args.scan_command, "done": d, "total": t, "what": w})),
            log=lambda m: sink(Event("step.log", "scan", {"step": args.scan_command,
                                                          "message": m})),
            cache_dir=_cache_dir(),
        )
        started = time.time()
        result = kind().run(ctx, settings)
        duration = time.time() - started
    if remote:
        result = relocate(result, remote[0])
    where = remote[0] if remote else str(root)
    record = _as_run(args.scan_command, cmd.kind, where, started, duration, result)
    if args.format or args.output:
        write_report(record, args.format or "json", Path(args.output) if args.output else None)
    elif args.json:
        from secpipe.reports.json_report import render

        sys.stdout.write(render(record))
    else:
        findings_table(result.findings, sys.stdout)
        _skipped_summary(result, sys.stdout)
        sys.stdout.write(f"\n{result.message or 'scan complete'} ({duration:.2f}s)\n")
    if result.status is StepStatus.ERROR:
        print(f"secpipe: error: {result.message}", file=sys.stderr)
        return 2
    return 1 if any(f.severity.rank >= fail_on.rank for f in result.findings) else 0


def _skipped_summary(result: StepResult, out: TextIO, shown: int = 5) -> None:
    """Skipped inputs grouped by reason (binaries are many and dull; the rest are listed)."""
    groups: dict[str, list[str]] = {}
    for skipped in result.skipped:
        groups.setdefault(skipped.reason.split(":")[0].split(" (")[0], []).append(
            f"{skipped.path}: {skipped.reason}")
    for reason, lines in sorted(groups.items()):
        out.write(f"  skipped {len(lines)} input(s): {reason}\n")
        for line in lines[:shown]:
            out.write(f"    {line}\n")
        if len(lines) > shown:
            out.write(f"    … and {len(lines) - shown} more (--json lists all)\n")


def _as_run(name: str, kind: str, root: str, started: float, duration: float,
            result: StepResult) -> RunRecord:
    step = StepRecord(
        step_id=name, kind=kind, stage="scan", status=result.status, started=started,
        duration=duration, message=result.message, tool=result.tool or f"secpipe {__version__}",
        metrics=dict(result.metrics), findings=result.findings, skipped=result.skipped,
        artifacts=result.artifacts,
    )
    status = "error" if result.status is StepStatus.ERROR else "passed"
    return RunRecord(
        run_id=f"scan-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(started))}",
        pipeline=f"scan {name}", project=root, started=started, finished=started + duration,
        status=status, exit_code=None, secpipe_version=__version__,
        stages=(StageRecord("scan", 0, result.status),), steps=(step,),
    )
