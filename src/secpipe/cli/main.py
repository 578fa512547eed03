"""``secpipe`` entry point: ``main(argv) -> int``; errors are caught once, here.

A :class:`SecpipeError` is its one-line diagnostic and its exit code; a ``ModuleNotFoundError``
for an optional dependency names the extra that installs it (:class:`MissingExtra`, exit 2); any
other exception is an internal error: one line, exit 2 (never 1, which is a verdict), the
traceback only with ``-v``.

Exit codes survive a reader that goes away (``secpipe scan secrets . | head -1``): while a
command runs, standard output and error are :class:`PipeGuard` streams, so a closed pipe neither
unwinds the command (its verdict is returned) nor fails the interpreter's last flush.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any, TextIO, cast

from secpipe import __version__
from secpipe.core import exitcodes
from secpipe.core.errors import MissingExtra, SecpipeError, extra_of

#: command name -> (module in secpipe.cli with add_parser(subparsers, common) and run(args) -> int,
#: one-line help). Only the module of the command being run is imported. A module whose parser
#: depends on the words after the command (``scan KIND``: only that scanner is loaded) defines
#: ``add_parser_for(subparsers, common, argv)`` instead, ``argv`` being what follows the command.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run_cmd", "run a pipeline (default: mlsecops)"),
    "scan": ("scan_cmd", "run one scanner on a path"),
    "gate": ("gate_cmd", "judge a recorded run against the policy"),
    "runs": ("runs_cmd", "list past runs"),
    "report": ("report_cmd", "render a report of a run"),
    "baseline": ("baseline_cmd", "record a run's findings as the baseline"),
    "suppress": ("suppress_cmd", "suppress a finding with a reason and an expiry"),
    "sign": ("sign_cmd", "sign a model (file or folder) and attest a run"),
    "verify": ("verify_cmd", "verify a signed model, its attestation and a policy"),
    "store": ("store_cmd", "list, push and pull runs in an artifact store"),
    "init": ("init_cmd", "read the project and write a commented secpipe.yaml"),
    "steps": ("steps_cmd", "list step kinds and built-in pipelines"),
    "db": ("db_cmd", "fill and inspect the local vulnerability database (OSV)"),
    "build": ("build_cmd", "build the project's container image (buildah, no daemon)"),
    "notify": ("notify_cmd", "list sinks, send a test event, replay the spool"),
    "serve": ("serve_cmd", "serve a read-only web dashboard of the runs"),
}


def command_module(name: str) -> ModuleType:
    return importlib.import_module(f"secpipe.cli.{COMMANDS[name][0]}")


def _columns() -> int:
    """The terminal's width as :func:`shutil.get_terminal_size` gives it (``$COLUMNS`` when a
    positive number, else standard output's terminal, else 80), without importing ``shutil``
    (about 2 ms, with its compression modules) for argparse's every ``add_argument``."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    stream = sys.__stdout__
    try:
        return (os.get_terminal_size(stream.fileno()).columns or 80) if stream else 80
    except (AttributeError, ValueError, OSError):
        return 80


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, its default width measured by :func:`_columns`."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         _columns() - 2 if width is None else width)


class RawDescriptionHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """argparse's raw-description formatter, its default width measured by :func:`_columns`."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        from secpipe.reports.escape import printable  # the message quotes what was typed

        self.print_usage(sys.stderr)
        self.exit(exitcodes.ERROR, f"secpipe: error: {printable(message)}\n")


def build_parser(only: str | None = None,
                 argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The full parser; with ``only``, just that command's module is imported (the others get a
    help line, which is all argparse needs unless they are the command being run), and ``argv``
    (the words after it) lets that command build only what they name."""
    parser = _Parser(
        prog="secpipe",
        description="Run MLSecOps and DevSecOps pipelines: scan, gate, train, sign, store.",
        epilog=exitcodes.EPILOG,
        formatter_class=RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"secpipe {__version__}")
    common = argparse.ArgumentParser(add_help=False, formatter_class=HelpFormatter)
    common.add_argument(
        "-C", "--project", default=os.environ.get("SECPIPE_PROJECT", "."), metavar="DIR",
        help="project folder (default: $SECPIPE_PROJECT or the current folder)",
    )
    common.add_argument(
        "-c", "--config", default=os.environ.get("SECPIPE_CONFIG"), metavar="FILE",
        help="configuration file (default: secpipe.yaml in the project)",
    )
    common.add_argument("--json", action="store_true", help="print machine-readable JSON")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    common.add_argument("-v", "--verbose", action="store_true",
                        help="show the traceback of a crash (a step's, or secpipe's own)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (_, help_text) in COMMANDS.items():
        if only is None or name == only:
            module = command_module(name)
            if hasattr(module, "add_parser_for"):
                module.add_parser_for(subparsers, common, None if only is None else argv)
            else:
                module.add_parser(subparsers, common)
        else:
            subparsers.add_parser(name, help=help_text, add_help=False)
    return parser


class PipeGuard:
    """A standard stream whose reader may go away before everything is written.

    The first write or flush that meets a closed pipe points the stream's file descriptor at
    ``os.devnull``: what follows (the rest of a table, the interpreter's flush at exit) is
    discarded quietly and the command goes on to return its verdict. Unguarded, the
    ``BrokenPipeError`` unwound the command and its verdict was lost, or the final flush failed
    and Python exited 120.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self.stream.write(text)
            except BrokenPipeError:
                self._discard()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._discard()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    def _discard(self) -> None:
        self.broken = True
        try:
            fd = self.stream.fileno()
        except (OSError, ValueError, AttributeError):
            return  # not a file descriptor (a test's capture): nothing will flush it at exit
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, fd)  # what is still buffered now flushes into nothing, successfully
        finally:
            os.close(null)
        with contextlib.suppress(OSError):
            self.stream.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; standard output and error are guarded against a closed pipe meanwhile."""
    out, err = PipeGuard(sys.stdout), PipeGuard(sys.stderr)
    sys.stdout, sys.stderr = cast(TextIO, out), cast(TextIO, err)
    try:
        return _main(argv)
    finally:
        out.flush()
        err.flush()
        sys.stdout, sys.stderr = out.stream, err.stream


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in argv or "--verbose" in argv  # until the arguments are parsed
    at = next((i for i, a in enumerate(argv) if not a.startswith("-")), len(argv))
    only = argv[at] if at < len(argv) and argv[at] in COMMANDS else None
    try:
        parser = build_parser(only, argv[at + 1:])
        args = parser.parse_args(argv)
        verbose = bool(getattr(args, "verbose", verbose))
        if not args.command:
            parser.print_help(sys.stderr)
            return exitcodes.ERROR
        code: int = args.func(args)
        return code
    except SecpipeError as exc:
        print(f"secpipe: error: {_diagnostic(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as stop:
        print("secpipe: interrupted", file=sys.stderr)
        if isinstance(stop, exitcodes.Terminated):
            return exitcodes.TERMINATED
        return exitcodes.INTERRUPTED
    except ModuleNotFoundError as exc:  # optional dependencies are imported where they are used
        extra = extra_of(exc.name)
        if extra is None:
            return _internal_error(exc, verbose)
        missing = MissingExtra(f"secpipe {only}" if only else "secpipe", extra)
        print(f"secpipe: error: {_diagnostic(missing)}", file=sys.stderr)
        return missing.exit_code
    except Exception as exc:  # a bug or a hostile input we did not foresee: never a verdict
        return _internal_error(exc, verbose)


def _diagnostic(exc: SecpipeError) -> str:
    """The error's message and hint, a name in them unable to drive the terminal."""
    from secpipe.reports.escape import printable

    hint = f"\n  hint: {printable(exc.hint)}" if exc.hint else ""
    return printable(exc.message) + hint


def _internal_error(exc: Exception, verbose: bool) -> int:
    import traceback

    from secpipe.pipeline.execute import crash_message
    from secpipe.reports.escape import printable

    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    what = printable(crash_message(exc).removeprefix("crashed: "))
    hint = "" if verbose else " (-v shows the traceback)"
    print(f"secpipe: error: internal error: {what}{hint}", file=sys.stderr)
    return exitcodes.ERROR


def entrypoint() -> None:
    sys.exit(main())
