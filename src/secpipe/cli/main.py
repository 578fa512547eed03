"""``secpipe`` entry point: ``main(argv) -> int``; errors are caught once, here."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from secpipe import __version__
from secpipe.cli import (
    baseline_cmd,
    gate_cmd,
    init_cmd,
    report_cmd,
    run_cmd,
    runs_cmd,
    scan_cmd,
    sign_cmd,
    steps_cmd,
    store_cmd,
    suppress_cmd,
    verify_cmd,
)
from secpipe.core.errors import SecpipeError

EPILOG = """exit codes: 0 passed · 1 a gate failed · 2 usage/config error or a step could not
complete · 130 interrupted"""

#: command name -> module with add_parser(subparsers) and run(args) -> int
COMMANDS: dict[str, ModuleType] = {
    "run": run_cmd,
    "scan": scan_cmd,
    "gate": gate_cmd,
    "runs": runs_cmd,
    "report": report_cmd,
    "baseline": baseline_cmd,
    "suppress": suppress_cmd,
    "sign": sign_cmd,
    "verify": verify_cmd,
    "store": store_cmd,
    "init": init_cmd,
    "steps": steps_cmd,
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"secpipe: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="secpipe",
        description="Run MLSecOps and DevSecOps pipelines: scan, gate, train, sign, store.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"secpipe {__version__}")
    common = argparse.ArgumentParser(add_help=False)
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
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in COMMANDS.values():
        module.add_parser(subparsers, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = args.func(args)
        return code
    except SecpipeError as exc:
        print(f"secpipe: error: {exc.diagnostic()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("secpipe: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def entrypoint() -> None:
    sys.exit(main())
