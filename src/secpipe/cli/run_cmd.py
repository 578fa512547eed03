"""``secpipe run [PIPELINE]``: run a pipeline and exit with its verdict."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from secpipe.cli.common import open_project, open_store
from secpipe.cli.render import ConsoleSink, summary_table
from secpipe.core.events import EventBus
from secpipe.pipeline.runner import Runner
from secpipe.reports.json_report import render


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "run", parents=[common], help="run a pipeline (default: mlsecops)",
        description="Run a pipeline of the project: built-in mlsecops/devsecops or one defined "
        "in secpipe.yaml. Exit 0 passed, 1 a gate failed, 2 error, 130 interrupted.",
    )
    p.add_argument("pipeline", nargs="?", default="mlsecops", help="pipeline name")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    project = open_project(args)
    store = open_store(project)
    try:
        bus = EventBus([ConsoleSink(quiet=args.quiet)])
        outcome = Runner(project, store, bus).run(args.pipeline)
        record = store.get_run(outcome.run_id)
        if args.json:
            sys.stdout.write(render(record))
        else:
            sys.stdout.write("\n")
            summary_table(record, sys.stdout)
            sys.stdout.write(f"\nrun {record.run_id}: {record.status} (exit {outcome.exit_code}); "
                             f"reports: secpipe report {record.run_id} --format html\n")
        for failure in bus.failures:
            print(f"secpipe: warning: {failure}", file=sys.stderr)
        return outcome.exit_code
    finally:
        store.close()
