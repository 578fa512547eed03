"""``secpipe store``: list, push and pull runs published in an artifact store."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from secpipe.cli.common import load_run, open_project, print_json
from secpipe.cli.render import line
from secpipe.core import exitcodes
from secpipe.core.errors import ConfigError
from secpipe.core.step import StepContext
from secpipe.keys.refs import SecretResolver
from secpipe.pipeline.config import Project
from secpipe.pipeline.validation import format_validation_error
from secpipe.stores.interface import ArtifactStore
from secpipe.stores.manifest import fetch, publish, published_runs, read_manifest, resolve_run
from secpipe.stores.manifest import run_prefix as prefix_of
from secpipe.stores.open import describe
from secpipe.stores.open import open_store as open_artifact_store
from secpipe.stores.staging import check_free
from secpipe.stores.steps import StoreStepSettings, collect


def add_store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", default=os.environ.get("SECPIPE_STORE"), metavar="URI",
                   help="store URI: a path, file://…, s3://bucket/prefix (default: $SECPIPE_STORE,"
                   " else defaults.store.uri of secpipe.yaml, else .secpipe/store)")
    p.add_argument("--endpoint-url", metavar="URL", help="S3-compatible endpoint")


def store_settings(args: argparse.Namespace, project: Project) -> StoreStepSettings:
    """``defaults.store`` of secpipe.yaml, overridden by the command line."""
    data = dict(project.config.defaults.get("store", {}))
    if getattr(args, "store", None):
        data["uri"] = args.store
    if getattr(args, "endpoint_url", None):
        data["endpoint_url"] = args.endpoint_url
    try:
        return StoreStepSettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error("defaults.store", exc)) from None


def store_from_args(args: argparse.Namespace, project: Project,
                    resolver: SecretResolver) -> ArtifactStore:
    settings = store_settings(args, project)
    return open_artifact_store(settings.uri, settings, project.root, resolver,
                               project.config.state_dir)


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "store", parents=[common], help="list, push and pull runs in an artifact store",
        description="Runs are published under <pipeline>/<run-id>/ with a manifest of SHA-256 "
        "digests written last. Exit 0 done, 2 error (a digest mismatch names the artifact).",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = actions.add_parser("list", parents=[common], help="published runs of a pipeline")
    ls.add_argument("--pipeline", default="mlsecops")
    push = actions.add_parser("push", parents=[common], help="publish a recorded run")
    push.add_argument("run_id", nargs="?", default="latest", help="run id or 'latest'")
    pull = actions.add_parser(
        "pull", parents=[common], help="download a published run",
        description="Download a published run into DEST, a folder that does not exist yet or is "
        "empty (anything else is refused, exit 2: a pull never replaces or deletes what is "
        "there). Every digest is checked before the files are put in place.")
    pull.add_argument("run_id", help="run id (or prefix) or 'latest'")
    pull.add_argument("dest", help="folder to create (or an empty one); never replaced")
    pull.add_argument("--pipeline", default="mlsecops")
    for sub in (ls, push, pull):
        add_store_options(sub)
        sub.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    project = open_project(args)
    resolver = SecretResolver(project.root)
    store = store_from_args(args, project, resolver)
    if args.action == "list":
        runs = published_runs(store, args.pipeline)
        if args.json:
            print_json({"store": describe(store.uri), "pipeline": args.pipeline, "runs": runs})
        else:
            for run_id in runs:
                manifest = read_manifest(store, prefix_of(args.pipeline, run_id))
                signed = "signed" if manifest.signed else "unsigned"
                line(sys.stdout, f"{run_id}  {len(manifest.files)} file(s)  {signed}")
        return exitcodes.PASSED
    if args.action == "push":
        return _push(args, project, store)
    check_free(Path(args.dest))  # before any download: a pull never replaces what is there
    run_id = resolve_run(store, args.pipeline, args.run_id)
    manifest, paths = fetch(store, prefix_of(args.pipeline, run_id), Path(args.dest))
    if args.json:
        print_json({"run_id": run_id, "files": {k: str(v) for k, v in paths.items()}})
    else:
        line(sys.stdout, f"pulled run {run_id}: {len(manifest.files)} file(s), digests checked, "
             f"into {args.dest}")
    return exitcodes.PASSED


def _push(args: argparse.Namespace, project: Project, store: ArtifactStore) -> int:
    record = load_run(project, args.run_id)
    ctx = StepContext(project_root=project.root, workdir=project.state_dir, run_id=record.run_id,
                      pipeline=record.pipeline)
    files, signed = collect(ctx, list(record.steps), store_settings(args, project))
    prefix = prefix_of(record.pipeline, record.run_id)
    manifest = publish(store, prefix, record.pipeline, record.run_id, files, signed)
    if args.json:
        print_json({"run_id": record.run_id, "store": describe(store.uri), "prefix": prefix,
                    "files": len(manifest.files)})
    else:
        line(sys.stdout, f"published run {record.run_id}: {len(manifest.files)} file(s) at "
             f"{describe(store.uri)}/{prefix}")
    return exitcodes.PASSED
