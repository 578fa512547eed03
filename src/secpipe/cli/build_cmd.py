"""``secpipe build``: build the project's container image with the ``build-image`` step.

The step's settings come from ``defaults.build-image`` of ``secpipe.yaml``, overridden by the
options given here; the outputs (an OCI layout and an ``oci-archive``) land in ``--output``
(default ``<state>/build``). Like ``secpipe scan X`` runs one scanner, this runs one build,
without recording a run. Exit 0 built, 2 when nothing could be built (buildah missing, a base
image that is not a local layout, a failed build).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from secpipe.cli.common import open_project, print_json
from secpipe.core import exitcodes
from secpipe.core.errors import ConfigError
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext, user_cache_dir
from secpipe.keys.refs import SecretResolver
from secpipe.pipeline.validation import format_validation_error

KIND = "build-image"
BUILD_FOLDER = "build"


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Register ``secpipe build``."""
    p = subparsers.add_parser(
        "build", parents=[common], help="build the project's container image (buildah, no daemon)",
        description="Build the project's Dockerfile with buildah (chroot isolation, no pulls, "
        "reproducible with SOURCE_DATE_EPOCH) into an OCI layout and an oci-archive. Settings: "
        "defaults.build-image of secpipe.yaml, overridden by these options. Exit 0 built, "
        "2 error.",
    )
    p.add_argument("--dockerfile", metavar="FILE", help="the Dockerfile (relative to the "
                   "project; default Dockerfile)")
    p.add_argument("--context", metavar="DIR", help="the build context (default the project)")
    p.add_argument("--tag", metavar="NAME[:TAG]", help="name of the image "
                   "(default localhost/app:latest)")
    p.add_argument("--base", metavar="oci:PATH[:REF]", help="a local base image replacing the "
                   "first FROM (never pulled), or none")
    p.add_argument("--source-date-epoch", type=int, metavar="SECONDS",
                   help="timestamp of everything in the image (default $SOURCE_DATE_EPOCH, else "
                   "the last git commit's time)")
    p.add_argument("--build-arg", action="append", default=[], metavar="NAME=VALUE",
                   help="a build argument (repeatable; never a secret)")
    p.add_argument("--output", metavar="DIR", help=f"where the layout and archive go (default "
                   f"<state>/{BUILD_FOLDER})")
    p.set_defaults(func=run)


def build_settings(args: argparse.Namespace, defaults: dict[str, Any]) -> Any:
    """The ``build-image`` settings: ``defaults`` overridden by the command line."""
    from secpipe.delivery.build_step import BuildImageSettings

    data = dict(defaults)
    for option in ("dockerfile", "context", "tag", "base", "source_date_epoch"):
        value = getattr(args, option, None)
        if value is not None:
            data[option] = value
    if args.build_arg:
        pairs = dict(data.get("build_args") or {})
        for item in args.build_arg:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise ConfigError(f"--build-arg {item!r}: write it as NAME=VALUE")
            pairs[name] = value
        data["build_args"] = pairs
    try:
        return BuildImageSettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error("build-image", exc)) from None


def run(args: argparse.Namespace) -> int:
    """Build the image; print where it is and its digest."""
    from secpipe.delivery.build_step import BuildImageStep

    project = open_project(args)
    settings = build_settings(args, dict(project.config.defaults.get(KIND, {})))
    workdir = Path(args.output) if args.output else project.state_dir / BUILD_FOLDER
    secrets = SecretResolver(project.root)
    quiet = bool(getattr(args, "quiet", False) or getattr(args, "json", False))
    ctx = StepContext(project_root=project.root, workdir=workdir.resolve(), run_id="build",
                      pipeline="build", step_id="image", state_dir=project.state_dir,
                      cache_dir=user_cache_dir(), secrets=secrets,
                      debug=bool(getattr(args, "verbose", False)))
    if not quiet:
        def log(message: str) -> None:
            sys.stderr.write(f"build: {secrets.redact(message)}\n")

        ctx.log = log
    result = BuildImageStep().run(ctx, settings)
    return _report(args, result)


def _report(args: argparse.Namespace, result: StepResult) -> int:
    built = result.status is StepStatus.PASSED
    if getattr(args, "json", False):
        print_json({"built": built, "status": result.status.value, "message": result.message,
                    "artifacts": [a.to_dict() for a in result.artifacts],
                    "metrics": dict(result.metrics)})
    elif built:
        sys.stdout.write(result.message + "\n")
        for artifact in result.artifacts:
            sys.stdout.write(f"  {artifact.name}: {artifact.path} ({artifact.digest})\n")
    if not built:
        sys.stderr.write(f"secpipe: error: build: {result.message}\n")
        return exitcodes.ERROR
    return exitcodes.PASSED
