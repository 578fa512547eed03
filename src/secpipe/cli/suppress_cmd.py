"""``secpipe suppress``: accept a finding on purpose, with a reason and an expiry date."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
from typing import Any

import yaml
from pydantic import ValidationError

from secpipe.cli.common import open_project
from secpipe.core import exitcodes
from secpipe.core.errors import InputError
from secpipe.pipeline.config import SUPPRESSIONS_FILE, read_yaml
from secpipe.pipeline.validation import format_validation_error
from secpipe.policy.model import SuppressionSpec

DEFAULT_DAYS = 90


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "suppress", parents=[common], help="suppress a finding with a reason and an expiry",
        description=f"Append a suppression to {SUPPRESSIONS_FILE} in the project. It expires "
        f"after {DEFAULT_DAYS} days unless --expires says otherwise ('never' for no expiry).",
    )
    p.add_argument("fingerprint", nargs="?", help="fingerprint of the finding")
    p.add_argument("--rule", help="suppress this rule id (with --path: only there)")
    p.add_argument("--path", help="glob of paths the suppression covers")
    p.add_argument("--reason", required=True, help="why this is acceptable")
    p.add_argument("--expires", help=f"YYYY-MM-DD or 'never' (default: in {DEFAULT_DAYS} days)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    project = open_project(args)
    if args.expires in (None, ""):
        expires: str | None = (dt.date.today() + dt.timedelta(days=DEFAULT_DAYS)).isoformat()
    elif args.expires == "never":
        expires = None
    else:
        expires = args.expires
    entry = {k: v for k, v in {
        "fingerprint": args.fingerprint, "rule": args.rule, "path": args.path,
        "reason": args.reason, "expires": expires,
    }.items() if v is not None}
    try:
        SuppressionSpec.model_validate(entry)
    except ValidationError as exc:
        raise InputError(format_validation_error("suppression", exc)) from None
    path = project.root / SUPPRESSIONS_FILE
    existing = read_yaml(path) if path.exists() else None
    items = list(existing or [])
    items.append(entry)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".suppressions-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# Findings accepted on purpose (secpipe suppress). Each needs a reason;\n"
                 "# an expired suppression stops suppressing and the gate says so.\n")
        yaml.safe_dump(items, fh, sort_keys=False)
    os.replace(tmp, path)
    what = args.fingerprint or args.rule or args.path
    sys.stdout.write(f"suppressed {what} until {expires or 'forever'} in {path}\n")
    return exitcodes.PASSED
