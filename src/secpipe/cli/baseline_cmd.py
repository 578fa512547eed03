"""``secpipe baseline``: accept today's findings, so gates fail only on new ones."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from secpipe.cli.common import load_finished_run, open_project, print_json
from secpipe.cli.render import line
from secpipe.core import exitcodes
from secpipe.core.errors import InputError
from secpipe.policy.baseline import DEFAULT_BASELINE, write_baseline


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "baseline", parents=[common], help="record a run's findings as the baseline",
        description="Write the fingerprints of a recorded run's findings to the baseline file "
        f"(policy.baseline, default {DEFAULT_BASELINE}); gates then fail only on new findings.",
    )
    p.add_argument("run_id", nargs="?", default="latest", help="run id or 'latest' (default)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    project = open_project(args)
    record = load_finished_run(project, args.run_id, "a baseline")
    path = project.root / (project.config.policy.baseline or DEFAULT_BASELINE)
    # the file is replaced atomically: through a symbolic link, its target is (the link stays)
    target = Path(os.path.realpath(path))
    if target.exists() and not target.is_file():
        raise InputError(f"baseline {path} is not a regular file; not replacing it",
                         hint="point policy.baseline at a file")
    count = write_baseline(target, record.findings, record.run_id)
    if args.json:
        print_json({"baseline": str(path), "fingerprints": count, "run_id": record.run_id})
    else:
        line(sys.stdout, f"baseline {path}: {count} finding(s) from run {record.run_id}")
    return exitcodes.PASSED
