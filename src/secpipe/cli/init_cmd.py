"""``secpipe init``: write a commented ``secpipe.yaml`` (atomically; through a symbolic link to
its target; a folder refused — :func:`secpipe.core.output.write_text`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from secpipe.core import exitcodes
from secpipe.core.errors import InputError
from secpipe.core.output import write_text

TEMPLATE = """\
# secpipe configuration. Reference: docs/configuration.md
version: 1

# The gate policy, applied by every `gate` step (a gate's `with:` may override single keys).
policy:
  fail_on: high              # fail on findings this severe or worse (critical … info, none)
  # max:                     # maximum counts by severity or rule id
  #   medium: 10
  #   secrets.generic-password: 0
  # metrics:                 # metric bounds, checked by gates after the evaluate stage
  #   - accuracy >= 0.8
  # baseline: .secpipe-baseline.json   # `secpipe baseline` writes it; only new findings fail

# Findings accepted on purpose: a reason is required, an expiry date advised.
# `secpipe suppress FINGERPRINT --reason "..."` appends to .secpipe-suppressions.yaml instead.
suppressions: []
#  - fingerprint: 0123456789abcdef0123456789abcdef
#    reason: test fixture, not a real key
#    expires: 2027-01-31

# Default `with:` settings per step kind, applied to the built-in pipelines too.
defaults:
  scan-secrets:
    paths: ["."]
    history: false           # true: also scan every commit of git history
    exclude: [".secpipe/**", ".venv/**", "node_modules/**"]

# Pipelines: a name of a built-in (mlsecops, devsecops) replaces it; `secpipe steps` lists both.
# pipelines:
#   quick:
#     stages:
#       - name: scan
#         steps:
#           - uses: scan-secrets
#           - uses: exec
#             with: {command: ["gitleaks", "dir", ".", "--report-format", "sarif",
#                              "--report-path", "{sarif}"]}
#       - name: gate
#         steps:
#           - uses: gate
"""


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("init", parents=[common], help="write a commented secpipe.yaml")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = Path(args.project)
    if not root.is_dir():
        raise InputError(f"project folder {root} does not exist")
    path = Path(args.config) if args.config else root / "secpipe.yaml"
    if path.exists() and not args.force:
        raise InputError(f"{path} already exists", hint="use --force to overwrite it")
    write_text(path, TEMPLATE, what="configuration")
    sys.stdout.write(f"wrote {path}\n")
    return exitcodes.PASSED
