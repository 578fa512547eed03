"""``secpipe init``: read the project (nothing run, nothing loaded), write a commented
``secpipe.yaml`` that wires what it found (atomically; through a symbolic link to its target; a
folder refused — :func:`secpipe.core.output.write_text`), and add ``.secpipe/`` to the
project's ``.gitignore``. On a terminal without ``--yes`` (and without ``-q``) it asks which
model to sign and whether to wire training; otherwise it takes the defaults and says so."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from secpipe.core import exitcodes
from secpipe.core.errors import InputError
from secpipe.core.output import write_text
from secpipe.project_scan import Choices, ProjectScan, default_choices, render_config, scan_project
from secpipe.project_scan.choose import ranked_models
from secpipe.project_scan.gitignore import ensure_ignored
from secpipe.project_scan.render import required_steps

CONFIG_NAMES = ("secpipe.yaml", "secpipe.yml", ".secpipe.yaml")
Ask = Callable[[str, bool], bool]
"""A yes/no question and its default, answered."""


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("init", parents=[common],
                              help="read the project and write a commented secpipe.yaml")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument("-y", "--yes", action="store_true",
                   help="ask nothing, take the proposed wiring (the default without a terminal)")
    p.set_defaults(func=run)


def _target(root: Path, config: str | None) -> Path:
    if config:
        return Path(config)
    existing = [root / n for n in CONFIG_NAMES if os.path.lexists(root / n)]
    return existing[0] if existing else root / "secpipe.yaml"


def _on_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (OSError, ValueError):  # a closed or odd standard input: nobody to ask
        return False


def _terminal_ask(question: str, default: bool) -> bool:
    sys.stderr.write(f"{question} [{'Y/n' if default else 'y/N'}] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return default if not answer else answer in ("y", "yes")


def ask_choices(scan: ProjectScan, ask: Ask) -> Choices:
    """The defaults, changed by the answers to a few yes/no questions."""
    choices = default_choices(scan)
    if choices.sign_model is not None:
        chosen = None
        for model, why in ranked_models(scan):
            if model.format != "lfs pointer" and ask(f"Sign {model.path} ({why})?", True):
                chosen = (model.path, f"{why}; chosen at `secpipe init`")
                break
        choices = replace(choices, sign_model=chosen[0] if chosen else None,
                          sign_why=chosen[1] if chosen else "none chosen at `secpipe init`")
    plan = choices.train
    if plan is not None and not ask(
            f"Train {plan.estimator} on {plan.data} (label '{plan.target}') in the pipeline?",
            True):
        choices = replace(choices, train=None, train_why="declined at `secpipe init`")
    return choices


def summary(path: Path, scan: ProjectScan, choices: Choices, gitignore: str) -> list[str]:
    """What was written and chosen, one line each."""
    lines = [f"wrote {path}"]
    if scan.empty:
        lines.append(f"found nothing to wire in {scan.files_seen} files: the general template")
    lines.append(f"sign: {choices.sign_model} ({choices.sign_why})" if choices.sign_model
                 else f"sign: no model chosen ({choices.sign_why})")
    lines.append("train: " + (f"{choices.train.estimator} on {choices.train.data} ("
                              f"{choices.train_why})" if choices.train else
                              f"not wired ({choices.train_why})"))
    lines.append(f"policy.require: {', '.join(required_steps(scan, choices))}")
    if scan.truncated:
        lines.append(f"the scan stopped early: {', '.join(scan.truncated)}")
    return [*lines, gitignore]


def run(args: argparse.Namespace) -> int:
    root = Path(args.project)
    if not root.is_dir():
        raise InputError(f"project folder {root} does not exist")
    path = _target(root, args.config)
    if os.path.lexists(path) and not args.force:
        raise InputError(f"{path} already exists", hint="use --force to overwrite it")
    scan = scan_project(root)
    interactive = not (args.yes or args.quiet or args.json) and _on_terminal()
    choices = ask_choices(scan, _terminal_ask) if interactive else default_choices(scan)
    write_text(path, render_config(scan, choices), what="configuration")
    gitignore = ensure_ignored(root)
    if args.json:
        sys.stdout.write(json.dumps({
            "config": str(path), "files_seen": scan.files_seen,
            "models": [m.path for m in scan.models], "sign_model": choices.sign_model,
            "train": choices.train.estimator if choices.train else None,
            "require": required_steps(scan, choices), "gitignore": gitignore,
            "truncated": list(scan.truncated)}, indent=2) + "\n")
    elif not args.quiet:
        sys.stdout.write("".join(f"{line}\n" for line in summary(path, scan, choices, gitignore)))
    return exitcodes.PASSED
