"""Helpers shared by the command modules."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from secpipe.core.errors import InputError
from secpipe.pipeline.config import Project, load_project
from secpipe.runstore import RunStore
from secpipe.runstore.records import RunRecord


def open_project(args: argparse.Namespace) -> Project:
    config = Path(args.config) if getattr(args, "config", None) else None
    return load_project(Path(args.project), config)


def open_store(project: Project) -> RunStore:
    return RunStore(project.state_dir / "runs.db")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def load_run(project: Project, ref: str) -> RunRecord:
    """The recorded run ``ref`` names (an id, a unique prefix or ``latest``)."""
    store = open_store(project)
    try:
        return store.get_run(store.resolve(ref))
    finally:
        store.close()


FINISHED = ("passed", "failed", "error")
"""Statuses of a run that ran to its end (``running`` never ended, ``interrupted`` was stopped)."""


def load_finished_run(project: Project, ref: str, what: str) -> RunRecord:
    """:func:`load_run`, refusing a run that did not end: judging or baselining half a run
    would take what it did not check for clean."""
    record = load_run(project, ref)
    if record.status not in FINISHED:
        state = "is still running or died without being closed" if record.status == "running" \
            else f"was {record.status}"
        raise InputError(f"run {record.run_id} {state}: {what} needs a run that ran to its end",
                         hint="run the pipeline again")
    return record
