"""``secpipe run [PIPELINE]``: run a pipeline and exit with its verdict."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from secpipe.cli.common import open_project, open_store
from secpipe.cli.render import ConsoleSink, line, summary_table
from secpipe.core import exitcodes
from secpipe.core.results import StepStatus
from secpipe.keys.refs import SecretResolver
from secpipe.pipeline.builtin import missing_stages
from secpipe.pipeline.config import Project
from secpipe.pipeline.runner import Runner
from secpipe.reports.json_report import render
from secpipe.runstore.records import RunRecord
from secpipe.sinks import build_sinks
from secpipe.sinks.bus import SinkBus


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "run", parents=[common], help="run a pipeline (default: mlsecops)",
        description="Run a pipeline of the project: built-in mlsecops/devsecops or one defined "
        "in secpipe.yaml. Events go to the console and to the sinks of secpipe.yaml. "
        + exitcodes.EPILOG + ".",
    )
    p.add_argument("pipeline", nargs="?", default="mlsecops", help="pipeline name")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    project = open_project(args)
    secrets = SecretResolver(project.root)
    sinks = build_sinks(project.config, project.root, secrets,
                        project.config_path.name if project.config_path else "secpipe.yaml")
    store = open_store(project)
    bus = SinkBus([ConsoleSink(quiet=args.quiet), *sinks], spool_dir=project.state_dir / "spool")
    try:
        with exitcodes.sigterm_interrupts():
            try:
                runner = Runner(project, store, bus, secrets=secrets,
                                debug=getattr(args, "verbose", False))
                outcome = runner.run(args.pipeline)
            finally:
                bus.close(project.config.sink_drain_seconds)
        record = store.get_run(outcome.run_id)
        if args.json:
            sys.stdout.write(render(record))
        else:
            sys.stdout.write("\n")
            summary_table(record, sys.stdout)
            _did_no_work(record, project, args.pipeline)
            deliveries = bus.deliveries()
            if deliveries:
                sys.stdout.write("\nsinks:\n")
                for delivery in deliveries:
                    line(sys.stdout, f"  {delivery.line()}")
            sys.stdout.write(f"\nrun {record.run_id}: {record.status} (exit {outcome.exit_code}); "
                             f"reports: secpipe report {record.run_id} --format html\n")
        for error in outcome.errors:
            what = "" if error.startswith("run-end: ") else "step "
            print(f"secpipe: error: {what}{error}", file=sys.stderr)
        for failure in bus.failures:
            print(f"secpipe: warning: {failure}", file=sys.stderr)
        return outcome.exit_code
    finally:
        store.close()


def _did_no_work(record: RunRecord, project: Project, pipeline: str) -> None:
    """Say plainly which steps did no work and which seed stages are not in the pipeline."""
    idle = [s for s in record.steps if s.status is StepStatus.SKIPPED]
    if idle:
        sys.stdout.write("\ndid no work (not a pass; `policy.require` can make it fail):\n")
        for step in idle:
            line(sys.stdout, f"  {step.step_id}: {step.message or 'skipped'}")
    if pipeline in project.config.pipelines:
        return
    absent = missing_stages(pipeline)
    if absent:
        sys.stdout.write(f"\nnot in {pipeline} here (step kind not installed): " + ", ".join(
            f"{stage} ({', '.join(kinds)})" for stage, kinds in absent) + "\n")
