"""``secpipe suppress``: accept a finding on purpose, with a reason and an expiry date."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from secpipe.cli.common import open_project
from secpipe.core import exitcodes
from secpipe.core.errors import ConfigError, InputError
from secpipe.core.safeload import write_text_atomically
from secpipe.pipeline import config
from secpipe.pipeline.config import SUPPRESSIONS_FILE
from secpipe.pipeline.validation import format_validation_error
from secpipe.policy.model import SuppressionSpec

DEFAULT_DAYS = 90
HEADER = ("# Findings accepted on purpose (secpipe suppress). Each needs a reason;\n"
          "# an expired suppression stops suppressing and the gate says so.\n")


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
        spec = SuppressionSpec.model_validate(entry)
    except ValidationError as exc:
        raise InputError(format_validation_error("suppression", exc)) from None
    entry["reason"] = spec.reason
    path = project.root / SUPPRESSIONS_FILE
    items = _existing(path)
    items.append(entry)
    text = HEADER + yaml.safe_dump(items, sort_keys=False)
    if len(text.encode("utf-8")) > config.MAX_CONFIG_BYTES:
        raise ConfigError(f"{SUPPRESSIONS_FILE}: too large with one more suppression (max "
                          f"{config.MAX_CONFIG_BYTES} bytes); nothing was written",
                          hint="remove expired or unused suppressions first")
    write_text_atomically(path, text, SUPPRESSIONS_FILE)
    what = args.fingerprint or args.rule or args.path
    sys.stdout.write(f"suppressed {what} until {expires or 'forever'} in {path}\n")
    return exitcodes.PASSED


def _existing(path: Path) -> list[Any]:
    """The suppressions already in the file, as written (validated by ``open_project``)."""
    if not os.path.lexists(path):
        return []
    data = config.read_yaml(path, SUPPRESSIONS_FILE).data
    if data is None:
        return []
    if not isinstance(data, list):
        raise ConfigError(f"{SUPPRESSIONS_FILE}: must be a list of suppressions")
    return data
