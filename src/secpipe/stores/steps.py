"""The ``store`` and ``load`` steps.

``store`` publishes the artifacts of the run's earlier steps (the signed model, its signature and
attestation under fixed names; every other artifact under ``<step-id>/``) with a manifest written
last. ``load`` fetches a published run — by run id (``latest``) or by the URI of its folder — checks
every digest and, with ``verify: true``, the model's signature, attestation and policy.

Neither passes without doing its work: ``store`` with nothing to publish and ``load`` with no run
named, or ``run: latest`` before anything was published, end SKIPPED with a message starting
``not configured:`` or ``nothing found:`` (a policy's ``require`` can make that fail the run).
"""

from __future__ import annotations

import fnmatch
import glob
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field, field_validator

from secpipe.core.artifacts import Artifact
from secpipe.core.errors import StoreError
from secpipe.core.results import StepResult, StepStatus, StepView
from secpipe.core.step import StepContext, StepKind
from secpipe.keys.refs import resolver_for
from secpipe.keys.signers import trusted_public_key
from secpipe.provenance.check import verify_all
from secpipe.provenance.policy import Requirement, parse_policy
from secpipe.provenance.settings import KeySettings
from secpipe.provenance.sign_step import SIGNING_INFO_NAME, check_pattern, match_project
from secpipe.stores.interface import safe_name
from secpipe.stores.manifest import (
    LocalFile,
    Manifest,
    SignedInfo,
    fetch,
    publish,
    published_runs,
    resolve_run,
    run_prefix,
)
from secpipe.stores.open import StoreSettings, describe, open_store


class StoreStepSettings(StoreSettings):
    """``store``: where to publish and what."""

    include: list[str] | None = None
    """Artifact-name patterns to publish (default: all; the signed model always goes)."""
    paths: list[str] = Field(default_factory=list)
    """Project files to publish (the app, ``requirements.txt``, a model the app loads), relative
    to the project: plain paths (which must exist; a folder means every file in it) or globs
    (``*.pkl``, ``models/**/*.onnx``), stored below ``project/``."""
    datasets: bool = False
    """Also publish the training datasets (``data:…`` artifacts). Their digests are always in
    the attestation and the SBOM; copying them is off by default to keep stores lean."""

    @field_validator("paths")
    @classmethod
    def _paths_in_project(cls, value: list[str]) -> list[str]:
        for item in value:
            check_pattern(item)
        return value


def collect(ctx: StepContext, steps: Sequence[StepView],
            settings: StoreStepSettings) -> tuple[list[LocalFile], SignedInfo | None]:
    """The files to publish and, when the run signed a model, which ones are its evidence."""
    signer = next((s for s in reversed(steps) if s.kind == "sign" and s.artifacts), None)
    by_source: dict[Path, LocalFile] = {}
    for step in steps:
        if step.kind == "load":
            continue  # loaded from a store: already published, with its own provenance
        for artifact in step.artifacts:
            if "://" in artifact.path:
                continue
            signed = step is signer
            if not signed and artifact.name.startswith("data:") and not settings.datasets:
                continue
            if not signed and settings.include is not None and not any(
                    fnmatch.fnmatchcase(artifact.name, p) for p in settings.include):
                continue
            source = Path(artifact.path)
            path = safe_name(artifact.name) if signed else _step_path(step.step_id, artifact)
            by_source[source.resolve()] = LocalFile(
                name=artifact.name, source=source, path=path, media_type=artifact.media_type,
                step=step.step_id, expected_digest=artifact.digest)
    for source in project_files(ctx, settings.paths):
        rel = source.relative_to(ctx.project_root).as_posix()
        # a file the run already publishes (the signed model) keeps its name and recorded digest
        by_source.setdefault(source.resolve(), LocalFile(
            name=rel, source=source, path=f"project/{safe_name(rel)}"))
    signed_info = None
    if signer is not None:
        info_artifact = next(a for a in signer.artifacts if a.name == SIGNING_INFO_NAME)
        try:
            info = json.loads(Path(info_artifact.path).read_text(encoding="utf-8"))
            signed_info = SignedInfo(model=info["model"], signature=info["signature"],
                                     key_id=info["key_id"], attestation=info.get("attestation"),
                                     sbom=info.get("sbom"))
        except (OSError, ValueError, KeyError, TypeError):
            raise StoreError(f"signing record {info_artifact.path} of step {signer.step_id} "
                             "is unreadable") from None
    return list(by_source.values()), signed_info


def project_files(ctx: StepContext, patterns: Sequence[str]) -> list[Path]:
    """The project files ``with.paths`` names, a folder expanded to every file below it."""
    out: dict[Path, None] = {}
    for pattern in patterns:
        for match in match_project(ctx.project_root, pattern, "with.paths", (ctx.state,)):
            if match.is_dir():
                rel = glob.escape(match.relative_to(ctx.project_root).as_posix())
                out.update(dict.fromkeys(
                    f for f in match_project(ctx.project_root, f"{rel}/**/*", "with.paths",
                                             (ctx.state,)) if f.is_file()))
            elif match.is_file():
                out[match] = None
    return list(out)


def _step_path(step_id: str, artifact: Artifact) -> str:
    name = safe_name(artifact.name)
    suffix = Path(artifact.path).suffix
    if suffix and not name.endswith(suffix):
        name += suffix
    return f"{safe_name(step_id)}/{name}"


class StoreStep(StepKind[StoreStepSettings]):
    kind = "store"
    summary = "publish the run's artifacts (signed model first) to a store, manifest last"
    Settings = StoreStepSettings
    produces_metrics = ("files_stored", "bytes_stored")

    def run(self, ctx: StepContext, settings: StoreStepSettings) -> StepResult:
        secrets = resolver_for(ctx)
        steps = ctx.earlier
        files, signed = collect(ctx, steps, settings)
        if not files:
            what = ("not configured: no earlier step of the run produced an artifact and "
                    "with.paths names no project file" if not settings.paths else
                    "nothing found: no earlier step of the run produced an artifact and "
                    f"with.paths ({', '.join(settings.paths)}) matched no file")
            return StepResult(status=StepStatus.SKIPPED, message=what)
        store = open_store(settings.uri, settings, ctx.project_root, secrets, ctx.state)
        prefix = run_prefix(ctx.pipeline or "adhoc", ctx.run_id)
        try:
            manifest = publish(store, prefix, ctx.pipeline or "adhoc", ctx.run_id, files, signed,
                               settings.max_workers, ctx.progress, ctx.cancel)
        except StoreError as exc:
            raise StoreError(secrets.redact(exc.message), hint=exc.hint) from None
        where = f"{describe(store.uri)}/{prefix}"
        size = sum(f.size for f in manifest.files)
        artifacts = tuple(Artifact(name=f.name, path=f"{where}/files/{f.path}", digest=f.digest,
                                   size=f.size, media_type=f.media_type) for f in manifest.files)
        return StepResult(
            status=StepStatus.PASSED, artifacts=artifacts,
            metrics={"files_stored": float(len(manifest.files)), "bytes_stored": float(size)},
            message=f"stored {len(manifest.files)} file(s), {size} bytes, at {where}"
            + (" (signed model)" if signed else ""),
        )


class LoadSettings(StoreSettings, KeySettings):
    """``load``: which published run, and whether to verify it."""

    run: str | None = None
    """Run id (or a unique prefix) of ``pipeline`` in the store, or ``latest``."""
    pipeline: str = "mlsecops"
    """Pipeline whose published runs ``run`` picks from."""
    source: str | None = None
    """Instead of ``run``: the URI of a published run's folder (``s3://b/p/mlsecops/<id>``)."""
    verify: bool = False
    """Verify the model's signature and attestation with the trusted key before use."""
    require: list[str] = Field(default_factory=list)
    """Policy over the attestation, e.g. ``["scan-models passed"]`` (implies ``verify``)."""


class LoadStep(StepKind[LoadSettings]):
    kind = "load"
    summary = "load a published run's artifacts, digest-checked, and verify the signed model"
    Settings = LoadSettings
    produces_metrics = ("files_loaded", "bytes_loaded")

    def run(self, ctx: StepContext, settings: LoadSettings) -> StepResult:
        if settings.run is None and settings.source is None:
            return StepResult(status=StepStatus.SKIPPED,
                              message="not configured: no with.run or with.source names a "
                              "published run to load")
        requirements = parse_policy(settings.require) if settings.require else []
        secrets = resolver_for(ctx)
        if settings.source is not None:
            store = open_store(settings.source, settings, ctx.project_root, secrets,
                               ctx.state)
            prefix = ""
        else:
            store = open_store(settings.uri, settings, ctx.project_root, secrets, ctx.state)
            runs = published_runs(store, settings.pipeline)
            if not runs and settings.run == "latest":
                return StepResult(status=StepStatus.SKIPPED, message=secrets.redact(
                    f"nothing found: no published run of pipeline {settings.pipeline} in "
                    f"{describe(store.uri)}"))
            prefix = run_prefix(settings.pipeline,
                                resolve_run(store, settings.pipeline, str(settings.run), runs))
        dest = Path(ctx.workdir) / "artifacts"
        try:
            manifest, paths = fetch(store, prefix, dest, settings.max_workers, ctx.progress,
                                    ctx.cancel)
        except StoreError as exc:
            raise StoreError(secrets.redact(exc.message), hint=exc.hint) from None
        where = f"{describe(store.uri)}/{prefix}".rstrip("/")
        artifacts = tuple(Artifact(name=f.path, path=str(paths[f.path]), digest=f.digest,
                                   size=f.size, media_type=f.media_type) for f in manifest.files)
        metrics = {"files_loaded": float(len(manifest.files)),
                   "bytes_loaded": float(sum(f.size for f in manifest.files))}
        if settings.verify or requirements:
            failure = self._verify(ctx, settings, manifest, dest, requirements)
            if failure:
                shutil.rmtree(dest, ignore_errors=True)  # never leave an unverified model behind
                return StepResult(status=StepStatus.FAILED, metrics=metrics,
                                  message=f"run {manifest.run_id} from {where}: {failure}")
        verified = " (signature verified)" if settings.verify or requirements else ""
        return StepResult(status=StepStatus.PASSED, artifacts=artifacts, metrics=metrics,
                          message=f"loaded run {manifest.run_id} ({len(manifest.files)} file(s)) "
                          f"from {where}{verified}")

    def _verify(self, ctx: StepContext, settings: LoadSettings, manifest: Manifest, dest: Path,
                requirements: list[Requirement]) -> str | None:
        signed = manifest.signed
        if signed is None:
            return "it has no signed model (no signature in its manifest)"
        public = trusted_public_key(settings.key, settings.public_key, ctx.project_root,
                                    resolver_for(ctx), settings.options(), ctx.state)
        attestation = dest / signed.attestation if signed.attestation else None
        sbom = dest / signed.sbom if signed.sbom else None
        report = verify_all(dest / signed.model, dest / signed.signature, public, attestation,
                            requirements, sbom)
        if not report.passed:
            return "verification failed: " + "; ".join(report.failures)
        return None
