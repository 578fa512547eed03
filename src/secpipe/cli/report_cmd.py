"""``secpipe report RUN_ID --format sarif|json|markdown|html``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from secpipe.cli.common import load_run, open_project
from secpipe.core import exitcodes
from secpipe.reports import FORMATS, write_report


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("report", parents=[common], help="render a report of a run")
    p.add_argument("run_id", nargs="?", default="latest",
                   help="run id, a unique prefix of one, or 'latest' (default)")
    p.add_argument("-f", "--format", default="markdown", choices=sorted(FORMATS),
                   help="report format (default: markdown)")
    p.add_argument("-o", "--output", metavar="FILE", help="write here (default: standard output)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    project = open_project(args)
    record = load_run(project, args.run_id)
    fmt = "json" if args.json else args.format
    write_report(record, fmt, Path(args.output) if args.output else None)
    return exitcodes.PASSED
