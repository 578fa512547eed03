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

The plain path: for a scanner whose options are recorded (:mod:`secpipe.core.scan_options`) and
that has an engine entry on plain values (``scan models``: :func:`~secpipe.scanners.models.engine.
scan_tree`), the parser is built from the record and, when every option given is within its
field's recorded bounds, the scan runs on plain values under the same crash guard
(:func:`secpipe.core.guard.guarded`) without importing the scanner's settings model, pydantic,
the sinks or the policy model, so a one-file pre-commit scan starts about as fast as a peer
(``docs/benchmarks.md``, "One-file start-up"). The findings, messages, exit codes and output
are the same as the model's path (a test compares both on the model corpus). A project
configuration (``secpipe.yaml``, suppressions, ``--config``), a value outside a bound or a
scanner without a recorded table takes the model's path.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from secpipe import __version__
from secpipe.cli.main import HelpFormatter
from secpipe.cli.render import ConsolePrinter, findings_table, line
from secpipe.cli.scan_remote import fetch, is_store_uri, relocate
from secpipe.core import exitcodes
from secpipe.core.errors import ConfigError, InputError
from secpipe.core.findings import Finding, Severity
from secpipe.core.registry import BUILTIN_STEPS, SCANNER_PREFIX, load_kind, scanner_kinds
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.scan_options import RECORDED, OptionSpec
from secpipe.core.step import StepContext, StepKind
from secpipe.reports import FORMATS, write_report
from secpipe.reports.escape import printable
from secpipe.scanners.options import (
    DEST_PREFIX,
    add_options,
    plain_values,
    scanner_table,
    settings_from_args,
)

if TYPE_CHECKING:
    from secpipe.runstore.records import RunRecord

PLAIN_SCANNERS = ("models",)
"""Scanners ``secpipe scan`` can run on plain values (see the module's docstring)."""
PROJECT_FILES = ("secpipe.yaml", "secpipe.yml", ".secpipe.yaml", ".secpipe-suppressions.yaml")
"""A project folder holding one of these takes the model's path (the project's configuration is
read there); the names are :mod:`secpipe.pipeline.config`'s (a test checks it)."""

HELP = "run one scanner on a path"
TARGETS = "targets"
"""A scanner whose settings have a ``targets: list[str]`` field (hosts or URLs: ``scan web``,
``scan ports``, ``scan host``) takes them as its positional arguments instead of paths."""
OPTIONAL_TARGETS = ("host",)
"""Target scanners whose targets may be left out (``scan host`` checks this host)."""
IMAGE_PATHS_HELP = ("images: OCI layout folders, oci-archive or docker-archive tars, or registry "
                    "references oci://HOST[:PORT]/REPO@sha256:HEX or oci://HOST[:PORT]/REPO:TAG "
                    "(pulled by digest and verified)")


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
        if name == chosen and name in RECORDED and kind_name == RECORDED[name].kind:
            table = RECORDED[name]  # the scanner is imported only if the scan needs it
            _add_scanner(inner, common, name, table.summary, table.options)
            continue
        if name == chosen:  # a scanner that cannot be used is an error only when chosen
            table = scanner_table(load_kind(kind_name))
            _add_scanner(inner, common, name, table.summary, table.options)
            continue
        try:
            kind = load_kind(kind_name)
            if argv is None:
                table = scanner_table(kind)
                _add_scanner(inner, common, name, table.summary, table.options)
                continue
            summary = kind.summary
        except ConfigError as exc:  # a broken plugin is listed, not fatal to the others
            summary = f"(cannot be used: {exc.message})"
        # only listed (`secpipe scan --help`, an invalid choice's message)
        inner.add_parser(name, help=summary, add_help=False)


def _add_scanner(inner: Any, common: argparse.ArgumentParser, name: str, summary: str,
                 options: Sequence[OptionSpec]) -> None:
    # options are gathered apart first, so a clash is a ConfigError before `inner` changes
    own = argparse.ArgumentParser(add_help=False, parents=[common], formatter_class=HelpFormatter)
    targets = next((o for o in options if o.name == TARGETS and o.kind == "list"), None)
    if targets is not None:  # a scanner of hosts or URLs: they are the positional arguments
        options = [o for o in options if o is not targets]
        own.add_argument("paths", nargs="*" if name in OPTIONAL_TARGETS else "+",
                         metavar=targets.metavar or "TARGET", help=targets.help)
        own.set_defaults(insecure=False)
    else:
        own.add_argument("--insecure", action="store_true",
                         help="reach an oci:// registry over plain HTTP")
        own.add_argument("paths", nargs="+", metavar="PATH",
                         help=IMAGE_PATHS_HELP if name == "image" else
                         "files or folders to scan, or one store URI (s3://bucket/prefix, "
                         "oci://host/repo, file:///path) whose objects are fetched and scanned")
    own.add_argument("--fail-on", default="low", metavar="SEVERITY",
                     help="exit 1 when a finding is at this severity or worse (default: low)")
    own.add_argument("-f", "--format", choices=sorted(FORMATS),
                     help="write a report in this format")
    own.add_argument("-o", "--output", metavar="FILE",
                     help="report file (default: standard output)")
    add_options(own, options, f"scanner {name!r}")
    sp = inner.add_parser(name, parents=[own], help=summary, description=summary,
                          epilog=exitcodes.EPILOG)
    sp.set_defaults(func=run, scan_command=name, scan_targets=targets is not None)


def _cache_dir() -> Path:
    from secpipe.core.step import user_cache_dir

    return user_cache_dir()


def run(args: argparse.Namespace) -> int:
    """Run the scan; SIGTERM unwinds it like Ctrl-C (exit 143), so a scanner's worker processes
    are stopped and reaped before secpipe exits instead of outliving it."""
    with exitcodes.sigterm_interrupts():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    name: str = args.scan_command
    plain = name in PLAIN_SCANNERS and name in RECORDED and not _project_config(args)
    kind = None if plain else load_kind(SCANNER_PREFIX + name)
    try:
        fail_on = Severity.parse(args.fail_on)
    except ValueError as exc:
        raise InputError(f"--fail-on: {exc}") from None
    if getattr(args, "scan_targets", False):
        return _run_targets(args, name, fail_on)
    images = _image_references(name, args)
    given = [p for p in args.paths if p not in images]
    remote = [p for p in given if is_store_uri(p)]
    if remote and len(args.paths) > 1:
        raise InputError("scan one store URI at a time, without local paths beside it")
    sink = ConsolePrinter(quiet=(args.quiet or args.json) and not args.verbose)
    with _scratch("secpipe-scan-") as work:
        root, rel = (work / "fetched", ["."]) if remote else _local_paths(given)
        rel += images
        step = _plain_step(name, args, rel) if plain else None
        if step is None:  # the scanner's settings model validates the options
            kind = kind or load_kind(SCANNER_PREFIX + name)
            step = _model_step(kind, args, rel, name)
        if remote:  # options are checked before anything is downloaded
            from secpipe.core.events import StepLog

            count = fetch(remote[0], root, insecure=args.insecure)
            sink(StepLog("scan", step=name, message=f"fetched {count} object(s)"))
        ctx = _context(args, name, root, work, sink)
        started = time.time()
        result = step(ctx)
        duration = time.time() - started
    if remote:
        result = relocate(result, remote[0])
    _render(args, name, remote[0] if remote else str(root), started, duration, result)
    if result.status is StepStatus.ERROR:
        print(f"secpipe: error: {printable(result.message)}", file=sys.stderr)
        return exitcodes.ERROR
    worst = max((f.severity.rank for f in result.findings if not _accepted_inline(f)),
                default=-1)
    return exitcodes.GATE_FAILED if worst >= fail_on.rank else exitcodes.PASSED


def _run_targets(args: argparse.Namespace, name: str, fail_on: Severity) -> int:
    """A scanner of hosts or URLs: the positional arguments are its ``targets`` (no path is
    read; the scan is rooted at the current folder)."""
    kind = load_kind(SCANNER_PREFIX + name)
    given = list(args.paths) + list(getattr(args, DEST_PREFIX + TARGETS, None) or [])
    if given:
        setattr(args, DEST_PREFIX + TARGETS, given)
    sink = ConsolePrinter(quiet=(args.quiet or args.json) and not args.verbose)
    with _scratch("secpipe-scan-") as work:
        root = Path.cwd().resolve()
        step = _model_step(kind, args, [], name)
        ctx = _context(args, name, root, work, sink)
        started = time.time()
        try:
            result = step(ctx)
        finally:
            ctx.run_end_hooks()
        duration = time.time() - started
    _render(args, name, " ".join(given) or str(root), started, duration, result)
    if result.status is StepStatus.ERROR:
        print(f"secpipe: error: {printable(result.message)}", file=sys.stderr)
        return exitcodes.ERROR
    worst = max((f.severity.rank for f in result.findings), default=-1)
    return exitcodes.GATE_FAILED if worst >= fail_on.rank else exitcodes.PASSED


def _image_references(name: str, args: argparse.Namespace) -> list[str]:
    """The ``oci://`` paths of ``secpipe scan image``: registry references the step pulls by
    itself (:mod:`secpipe.scanners.image.remote`), not stores to fetch. ``--insecure`` becomes
    the step's ``insecure`` setting, its one name for plain HTTP."""
    if name != "image":
        return []
    if args.insecure:
        setattr(args, DEST_PREFIX + "insecure", True)
    return [p for p in args.paths if p[:6].lower() == "oci://"]


def _accepted_inline(finding: Finding) -> bool:
    """True for a finding a ``secpipe:ignore`` comment with a reason suppresses until today or
    later (as the gate judges it); it is still listed, but does not fail the scan."""
    if "secpipe:inline-suppressed" not in finding.tags:
        return False
    import datetime as dt

    from secpipe.policy.inline import inline_state

    state = inline_state(finding)
    return state is not None and not state.problem(dt.date.today())


Step = Callable[[StepContext], StepResult]


def _temp_roots() -> Iterator[str]:
    """Where a temporary folder may go, in :func:`tempfile.gettempdir`'s order: ``$TMPDIR``,
    ``$TEMP``, ``$TMP``, then the usual system folders, then the current folder."""
    for name in ("TMPDIR", "TEMP", "TMP"):
        value = os.environ.get(name)
        if value:
            yield value
    yield from ("/tmp", "/var/tmp", "/usr/tmp")  # noqa: S108 - candidates, as tempfile's
    try:
        yield os.getcwd()
    except OSError:  # the current folder was removed
        yield os.curdir


@contextmanager
def _scratch(prefix: str) -> Iterator[Path]:
    """A new private folder (mode 0700, a random name) in the first usable temporary folder,
    removed with its content on exit: what ``tempfile.TemporaryDirectory`` gives, without
    importing it and ``shutil`` on every scan (about 4 ms of a one-file scan's start). A case
    this does not handle (no candidate folder accepts it) is left to ``tempfile`` itself, so its
    error is the same as before."""
    made: Path | None = None
    for root in _temp_roots():
        for _ in range(20):  # a random 64-bit name clashes only if someone guessed it
            candidate = Path(root) / f"{prefix}{os.urandom(8).hex()}"
            try:
                os.mkdir(candidate, 0o700)
            except FileExistsError:
                continue
            except OSError:
                break  # not a usable folder: try the next one
            made = Path(os.path.abspath(candidate))
            break
        if made is not None:
            break
    if made is None:  # pragma: no cover - no writable temporary folder at all
        import tempfile

        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            yield Path(tmp)
        return
    try:
        yield made
    finally:
        _remove_tree(made)


def _remove_tree(top: Path) -> None:
    """Remove ``top`` and everything under it, never following a symbolic link out of it."""
    for folder, dirs, files in os.walk(top, topdown=False):
        for name in files:
            os.unlink(os.path.join(folder, name))
        for name in dirs:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                os.unlink(path)
            else:
                os.rmdir(path)
    os.rmdir(top)


def _model_step(kind: type[StepKind[Any]], args: argparse.Namespace, rel: list[str],
                name: str) -> Step:
    """The scan through the kind's settings model and ``run`` (the pipeline's way)."""
    from secpipe.pipeline.execute import run_guarded

    settings = settings_from_args(kind.Settings, args, rel, f"scan {name}")
    return lambda ctx: run_guarded(kind, ctx, settings)


def _plain_step(name: str, args: argparse.Namespace, rel: list[str]) -> Step | None:
    """The scan on plain values from the recorded options; None when the model must validate
    them (then :func:`_model_step` names the problem)."""
    from secpipe.core.guard import guarded

    values = plain_values(RECORDED[name], args, rel)
    if values is None:
        return None
    if name != "models":  # pragma: no cover - PLAIN_SCANNERS names only scanners handled here
        return None
    from secpipe.scanners.models.engine import ModelScanOptions, scan_tree

    options = ModelScanOptions.from_values(values)
    kind = RECORDED[name].kind
    return lambda ctx: guarded(ctx, lambda: scan_tree(ctx, options), kind)


def _project_config(args: argparse.Namespace) -> bool:
    """True when a project configuration may apply: ``--config``, or one of
    :data:`PROJECT_FILES` in the project folder or the current one (even a dangling link)."""
    if getattr(args, "config", None):
        return True
    folders = {Path(getattr(args, "project", None) or "."), Path(".")}
    return any(os.path.lexists(folder / f) for folder in folders for f in PROJECT_FILES)


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
             sink: ConsolePrinter) -> StepContext:
    """An ad-hoc run: its state folder is the temporary one, never the project's."""
    from secpipe.keys.refs import SecretResolver

    secrets = SecretResolver(root)
    state = work / "state"
    ctx = StepContext(
        project_root=root, workdir=state / "runs" / "scan" / name, run_id="scan",
        pipeline="scan", step_id=name, state_dir=state, cache_dir=_cache_dir(),
        secrets=secrets, debug=bool(args.verbose))
    if not sink.quiet:  # a quiet console shows no event: none is made (nor its types imported)
        from secpipe.core.events import StepLog, StepProgress

        ctx.progress = lambda d, t, w: sink(StepProgress("scan", step=name, done=d, total=t,
                                                         what=w))
        ctx.log = lambda m: sink(StepLog("scan", step=name, message=secrets.redact(m)))
    return ctx


def _render(args: argparse.Namespace, name: str, root: str, started: float, duration: float,
            result: StepResult) -> None:
    if args.format or args.output:
        record = _as_run(name, SCANNER_PREFIX + name, root, started, duration, result)
        write_report(record, args.format or "json", Path(args.output) if args.output else None)
    elif args.json:
        from secpipe.reports.json_report import render

        record = _as_run(name, SCANNER_PREFIX + name, root, started, duration, result)
        sys.stdout.write(render(record))
    elif result.status is StepStatus.ERROR:
        # the error itself goes to stderr; "no findings" here would read as a clean scan
        if result.findings:
            findings_table(result.findings, sys.stdout)
        _skipped_summary(result, sys.stdout)
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
    from secpipe.runstore.records import RunRecord, StageRecord, StepRecord

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
