"""``secpipe steps``: list step kinds and the built-in pipelines."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from secpipe.cli.common import print_json
from secpipe.core import exitcodes
from secpipe.core.registry import available_kinds, load_kind
from secpipe.pipeline.builtin import builtin_pipeline, builtin_pipeline_names


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("steps", parents=[common],
                              help="list step kinds and built-in pipelines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    kinds = {name: load_kind(name) for name in available_kinds()}
    pipelines = {}
    for name in builtin_pipeline_names():
        spec = builtin_pipeline(name)
        assert spec is not None
        pipelines[name] = [[s.uses for s in st.steps] for st in spec.stages]
    if args.json:
        print_json({"kinds": {k: v.summary for k, v in kinds.items()}, "pipelines": pipelines})
        return exitcodes.PASSED
    sys.stdout.write("step kinds:\n")
    for name, cls in kinds.items():
        sys.stdout.write(f"  {name:<16} {cls.summary}\n")
    for name in builtin_pipeline_names():
        spec = builtin_pipeline(name)
        assert spec is not None
        sys.stdout.write(f"\npipeline {name}: {spec.description}\n")
        for i, st in enumerate(spec.stages, 1):
            sys.stdout.write(f"  {i}. {st.name}: {', '.join(s.uses for s in st.steps)}\n")
    return exitcodes.PASSED
