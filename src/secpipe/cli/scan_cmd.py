"""``secpipe scan NAME PATH``: run one scanner step on a path, outside any pipeline.

The subcommands come from the registry, never from a table of their own: every step kind named
``scan-NAME`` (built-in or from a plugin) is ``secpipe scan NAME``, and its options are derived
from its settings model (:mod:`secpipe.scanners.base` states the rule,
:mod:`secpipe.scanners.options` applies it). Only the scanner named on the command line is
imported, so a one-file pre-commit scan starts quickly; ``secpipe scan --help`` loads them all to
list them.

The step runs under the pipeline's own crash guard
(:func:`~secpipe.pipeline.execute.run_guarded`): a scanner that crashes on a hostile file is a
one-line error and exit 2, never a traceback and never exit 1. The result is rendered like a run
(table, JSON, or any report format with ``--format``/``--output``); exit 1 means a finding at
``--fail-on`` or worse.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from secpipe import __version__
from secpipe.cli.render import ConsoleSink, findings_table, line
from secpipe.cli.scan_remote import fetch, is_store_uri, relocate
from secpipe.core import exitcodes
from secpipe.core.errors import ConfigError, InputError
from secpipe.core.events import StepLog, StepProgress
from secpipe.core.findings import Severity
from secpipe.core.registry import BUILTIN_STEPS, SCANNER_PREFIX, load_kind, scanner_kinds
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind
from secpipe.pipeline.execute import run_guarded
from secpipe.reports import FORMATS, write_report
from secpipe.reports.escape import printable
from secpipe.runstore.records import RunRecord, StageRecord, StepRecord
from secpipe.scanners.options import add_setting_options, settings_from_args

HELP = "run one scanner on a path"


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Every scanner, each with all its options (loads every scanner kind)."""
    add_parser_for(subparsers, common, None)


def add_parser_for(subparsers: Any, common: argparse.ArgumentParser,
                   argv: Sequence[str] | None) -> None:
    """The ``scan`` parser for the words ``argv`` that follow ``scan``: only the scanner they
    name gets its options (and is imported); without one, every scanner is listed."""
    p = subparsers.add_parser("scan", help=HELP, description=HELP, epilog=exitcodes.EPILOG)
    inner = p.add_subparsers(dest="scanner", metavar="SCANNER", required=True,
                             parser_class=type(p))
    chosen = next((a for a in argv if not a.startswith("-")), None) if argv is not None else None
    if chosen is not None and SCANNER_PREFIX + chosen in BUILTIN_STEPS:
        names = {chosen: SCANNER_PREFIX + chosen}  # no plugin is looked up
    else:
        names = scanner_kinds()
        if chosen in names:
            names = {chosen: names[chosen]}
    for name, kind_name in names.items():
        if name == chosen:  # a scanner that cannot be used is an error only when chosen
            _add_scanner(inner, common, name, load_kind(kind_name))
            continue
        try:
            kind = load_kind(kind_name)
            if argv is None:
                _add_scanner(inner, common, name, kind)
                continue
            summary = kind.summary
        except ConfigError as exc:  # a broken plugin is listed, not fatal to the others
            summary = f"(cannot be used: {exc.message})"
        # only listed (`secpipe scan --help`, an invalid choice's message)
        inner.add_parser(name, help=summary, add_help=False)


def _add_scanner(inner: Any, common: argparse.ArgumentParser, name: str,
                 kind: type[StepKind[Any]]) -> None:
    # options are gathered apart first, so a clash is a ConfigError before `inner` changes
    own = argparse.ArgumentParser(add_help=False, parents=[common])
    own.add_argument("paths", nargs="+", metavar="PATH",
                     help="files or folders to scan, or one store URI (s3://bucket/prefix, "
                     "oci://host/repo, file:///path) whose objects are fetched and scanned")
    own.add_argument("--insecure", action="store_true",
                     help="reach an oci:// registry over plain HTTP")
    own.add_argument("--fail-on", default="low", metavar="SEVERITY",
                     help="exit 1 when a finding is at this severity or worse (default: low)")
    own.add_argument("-f", "--format", choices=sorted(FORMATS),
                     help="write a report in this format")
    own.add_argument("-o", "--output", metavar="FILE",
                     help="report file (default: standard output)")
    add_setting_options(own, kind.Settings, f"scanner {name!r}")
    sp = inner.add_parser(name, parents=[own], help=kind.summary, description=kind.summary,
                          epilog=exitcodes.EPILOG)
    sp.set_defaults(func=run, scan_command=name)


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "secpipe"


def run(args: argparse.Namespace) -> int:
    """Run the scan; SIGTERM unwinds it like Ctrl-C (exit 143), so a scanner's worker processes
    are stopped and reaped before secpipe exits instead of outliving it."""
    with exitcodes.sigterm_interrupts():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    name: str = args.scan_command
    kind = load_kind(SCANNER_PREFIX + name)
    try:
        fail_on = Severity.parse(args.fail_on)
    except ValueError as exc:
        raise InputError(f"--fail-on: {exc}") from None
    remote = [p for p in args.paths if is_store_uri(p)]
    if remote and len(args.paths) > 1:
        raise InputError("scan one store URI at a time, without local paths beside it")
    sink = ConsoleSink(quiet=(args.quiet or args.json) and not args.verbose)
    with tempfile.TemporaryDirectory(prefix="secpipe-scan-") as tmp:
        work = Path(tmp)
        root, rel = (work / "fetched", ["."]) if remote else _local_paths(args.paths)
        settings = settings_from_args(kind.Settings, args, rel, f"scan {name}")
        if remote:  # options are checked before anything is downloaded
            count = fetch(remote[0], root, insecure=args.insecure)
            sink(StepLog("scan", step=name, message=f"fetched {count} object(s)"))
        ctx = _context(args, name, root, work, sink)
        started = time.time()
        result = run_guarded(kind, ctx, settings)
        duration = time.time() - started
    if remote:
        result = relocate(result, remote[0])
    record = _as_run(name, SCANNER_PREFIX + name, remote[0] if remote else str(root), started,
                     duration, result)
    _render(args, record, result, duration)
    if result.status is StepStatus.ERROR:
        print(f"secpipe: error: {printable(result.message)}", file=sys.stderr)
        return exitcodes.ERROR
    worst = max((f.severity.rank for f in result.findings), default=-1)
    return exitcodes.GATE_FAILED if worst >= fail_on.rank else exitcodes.PASSED


def _local_paths(given: list[str]) -> tuple[Path, list[str]]:
    """The folder the scan is rooted at, and each path relative to it. That folder is the
    current one when every path is inside it, so results name files as they were typed
    (``sub/model.pkl``, not ``model.pkl``); else it is the paths' common folder (results are
    named relative to it). A folder is resolved; a file keeps its own name (a link named on the
    command line is reported, not followed)."""
    paths: list[Path] = []
    for text in given:
        p = Path(text)
        if not p.exists() and not p.is_symlink():
            raise InputError(f"{p}: no such file or folder")
        paths.append(p.resolve() if p.is_dir() else p.absolute().parent.resolve() / p.name)
    cwd = Path.cwd().resolve()
    if all(p.is_relative_to(cwd) for p in paths):
        root = cwd
    else:
        root = Path(os.path.commonpath([p if p.is_dir() else p.parent for p in paths]))
    return root, [os.path.relpath(p, root) for p in paths]


def _context(args: argparse.Namespace, name: str, root: Path, work: Path,
             sink: ConsoleSink) -> StepContext:
    """An ad-hoc run: its state folder is the temporary one, never the project's."""
    from secpipe.keys.refs import SecretResolver

    secrets = SecretResolver(root)
    state = work / "state"
    return StepContext(
        project_root=root, workdir=state / "runs" / "scan" / name, run_id="scan",
        pipeline="scan", step_id=name, state_dir=state, cache_dir=_cache_dir(),
        secrets=secrets, debug=bool(args.verbose),
        progress=lambda d, t, w: sink(StepProgress("scan", step=name, done=d, total=t, what=w)),
        log=lambda m: sink(StepLog("scan", step=name, message=secrets.redact(m))),
    )


def _render(args: argparse.Namespace, record: RunRecord, result: StepResult,
            duration: float) -> None:
    if args.format or args.output:
        write_report(record, args.format or "json", Path(args.output) if args.output else None)
    elif args.json:
        from secpipe.reports.json_report import render

        sys.stdout.write(render(record))
    else:
        findings_table(result.findings, sys.stdout)
        _skipped_summary(result, sys.stdout)
        sys.stdout.write("\n")
        line(sys.stdout, f"{result.message or 'scan complete'} ({duration:.2f}s)")


def _skipped_summary(result: StepResult, out: TextIO, shown: int = 5) -> None:
    """Skipped inputs grouped by reason (binaries are many and dull; the rest are listed)."""
    groups: dict[str, list[str]] = {}
    for skipped in result.skipped:
        groups.setdefault(skipped.reason.split(":")[0].split(" (")[0], []).append(
            f"{skipped.path}: {skipped.reason}")
    for reason, lines in sorted(groups.items()):
        line(out, f"  skipped {len(lines)} input(s): {reason}")
        for text in lines[:shown]:
            line(out, f"    {text}")
        if len(lines) > shown:
            line(out, f"    … and {len(lines) - shown} more (--json lists all)")


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
