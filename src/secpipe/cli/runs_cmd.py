"""``secpipe runs``: list recorded runs."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from secpipe.cli.common import open_project, open_store, print_json
from secpipe.cli.render import line
from secpipe.core import exitcodes


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("runs", parents=[common], help="list past runs")
    p.add_argument("-n", "--limit", type=int, default=20, help="how many (default 20)")
    p.add_argument("--pipeline", help="only runs of this pipeline")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    project = open_project(args)
    store = open_store(project)
    try:
        runs = store.list_runs(limit=args.limit, pipeline=args.pipeline)
        counts = {r.run_id: store.count_findings(r.run_id) for r in runs}
    finally:
        store.close()
    if args.json:
        print_json([{"id": r.run_id, "pipeline": r.pipeline, "started": r.started,
                     "finished": r.finished, "status": r.status, "exit_code": r.exit_code,
                     "findings": counts[r.run_id]} for r in runs])
        return exitcodes.PASSED
    if not runs:
        sys.stdout.write("no runs recorded yet\n")
        return exitcodes.PASSED
    for r in runs:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started))
        dur = f"{r.finished - r.started:.1f}s" if r.finished else "-"
        sev = ", ".join(f"{n} {s}" for s, n in sorted(counts[r.run_id].items())) or "no findings"
        line(sys.stdout, f"{r.run_id}  {when}  {r.pipeline:<10} {r.status:<11} {dur:>8}  {sev}")
    return exitcodes.PASSED
