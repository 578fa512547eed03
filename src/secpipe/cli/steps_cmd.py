"""``secpipe steps``: list step kinds and the built-in pipelines."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from secpipe.cli.common import print_json
from secpipe.core import exitcodes
from secpipe.core.errors import MissingExtra
from secpipe.core.registry import available_kinds, load_kind
from secpipe.pipeline.builtin import builtin_pipeline, builtin_pipeline_names


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("steps", parents=[common],
                              help="list step kinds and built-in pipelines")
    p.set_defaults(func=run)


def _summary(name: str) -> str:
    """The kind's one-line summary; a kind whose extra is missing says which one."""
    try:
        return load_kind(name).summary
    except MissingExtra as missing:
        note = f"(needs: pip install 'secpipe[{missing.extra}]')"
        try:
            return f"{load_kind(name, check_extra=False).summary} {note}"
        except MissingExtra:
            return note


def run(args: argparse.Namespace) -> int:
    kinds = {name: _summary(name) for name in available_kinds()}
    pipelines = {}
    for name in builtin_pipeline_names():
        spec = builtin_pipeline(name)
        assert spec is not None
        pipelines[name] = [[s.uses for s in st.steps] for st in spec.stages]
    if args.json:
        print_json({"kinds": kinds, "pipelines": pipelines})
        return exitcodes.PASSED
    sys.stdout.write("step kinds:\n")
    for name, summary in kinds.items():
        sys.stdout.write(f"  {name:<16} {summary}\n")
    for name in builtin_pipeline_names():
        spec = builtin_pipeline(name)
        assert spec is not None
        sys.stdout.write(f"\npipeline {name}: {spec.description}\n")
        for i, st in enumerate(spec.stages, 1):
            sys.stdout.write(f"  {i}. {st.name}: {', '.join(s.uses for s in st.steps)}\n")
    return exitcodes.PASSED
