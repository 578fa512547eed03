"""The ``store`` and ``load`` steps.

``store`` publishes the artifacts of the run's earlier steps (the signed model, its signature and
attestation under fixed names; every other artifact under ``<step-id>/``) with a manifest written
last. ``load`` fetches a published run — by run id (``latest``) or by the URI of its folder — checks
every digest and, with ``verify: true``, the model's signature, attestation and policy.

``store`` of a container image (``subject: image``; by default when the run has a
``build-image`` step before it, as ``devsecops``'s ``store-image``) pushes the ``image``
artifact (an OCI layout) to the OCI registry ``registry`` as ``repository:tag``, then the
signature and scan attestation an earlier ``sign`` step wrote for the same digest (cosign's
``sha256-<hex>.sig`` tag and OCI referrers); its artifact is the pushed reference by digest
(``oci://HOST/REPO@sha256:…``).

Neither passes without doing its work: ``store`` with nothing to publish and ``load`` with no run
named, or ``run: latest`` before anything was published, end SKIPPED with a message starting
``not configured:`` or ``nothing found:`` (a policy's ``require`` can make that fail the run).
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import glob
import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

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
from secpipe.provenance.sign_step import (
    IMAGE_ATTESTATION_NAME,
    IMAGE_SIGNATURE_NAME,
    SIGNING_INFO_NAME,
    built_image,
    check_pattern,
    match_project,
    signs_image,
    split_reference,
)
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
    subject: Literal["auto", "model", "image"] = "auto"
    """What to store: ``model`` (the run's artifacts, into ``uri``), ``image`` (the ``image``
    artifact of ``build-image``, pushed to ``registry``), or ``auto``: the image when the run
    has a ``build-image`` step before this one."""
    registry: str | None = None
    """Image store: the OCI registry, ``host:port`` (HTTPS) or ``http://host:port`` (plain
    HTTP, implies ``insecure``); default: the host of the image signature's reference."""
    repository: str | None = None
    """Image store: the repository (``team/app``); default: that of the signature's
    reference."""
    tag: str | None = None
    """Image store: the tag to push (default: none, the image is pushed by digest only)."""

    @field_validator("paths")
    @classmethod
    def _paths_in_project(cls, value: list[str]) -> list[str]:
        for item in value:
            check_pattern(item)
        return value


def collect(ctx: StepContext, steps: Sequence[StepView],
            settings: StoreStepSettings) -> tuple[list[LocalFile], SignedInfo | None]:
    """The files to publish and, when the run signed a model, which ones are its evidence."""
    signer = next((s for s in reversed(steps) if s.kind == "sign" and any(
        a.name == SIGNING_INFO_NAME for a in s.artifacts)), None)
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


def image_signature(steps: Sequence[StepView], digest: str) -> tuple[Mapping[str, Any], Path]:
    """The image signature record an earlier ``sign`` step wrote for ``digest`` and its folder
    (``({}, Path())`` when the run signed no such image)."""
    for step in reversed(steps):
        if step.kind != "sign":
            continue
        for artifact in step.artifacts:
            if artifact.name != IMAGE_SIGNATURE_NAME:
                continue
            path = Path(artifact.path)
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raise StoreError(f"image signature {path} of step {step.step_id} is "
                                 "unreadable") from None
            if not isinstance(record, dict) or not all(
                    isinstance(record.get(k), str) for k in
                    ("reference", "digest", "payload", "signature", "key_id")):
                raise StoreError(f"image signature {path} of step {step.step_id} is malformed")
            if record["digest"] == digest:
                return record, path.parent
    return {}, Path()


def store_image(ctx: StepContext, settings: StoreStepSettings) -> StepResult:
    """Push the run's image, then its signature and attestation, to the OCI registry."""
    from secpipe.images.registry import RegistryClient, check_repo, push_image
    from secpipe.images.signing import ImageSignature, push_attestation, push_signature

    steps = ctx.earlier
    image = built_image(steps)
    if image is None:
        return StepResult(status=StepStatus.SKIPPED, metrics={"images_stored": 0.0},
                          message="nothing found: no image built (no earlier step of the run "
                          "produced an 'image' artifact)")
    record, folder = image_signature(steps, image.digest)
    signed_host, signed_repo = (split_reference(str(record["reference"])) if record
                                else (None, None))
    secrets = resolver_for(ctx)
    registry = secrets.resolve(settings.registry, "registry") if settings.registry \
        else signed_host
    repo = settings.repository or signed_repo
    if not registry or not repo:
        return StepResult(status=StepStatus.SKIPPED, metrics={"images_stored": 0.0},
                          message="not configured: storing an image needs with.registry and "
                          "with.repository (or a signed image whose reference names them)")
    insecure = settings.insecure or registry.strip().startswith("http://")
    check_repo(repo)
    username = secrets.resolve_optional(settings.username, "username")
    password = secrets.resolve_optional(settings.password, "password")
    client = RegistryClient(registry, insecure=insecure, username=username, password=password)
    target = f"{client.host}/{repo}"
    if record and record["reference"] != target:
        raise StoreError(f"the image signature names {record['reference']}, but the image is "
                         f"pushed to {target}: verification would fail",
                         hint="make the sign step's with.reference and the store step's "
                         "registry/repository agree")
    ctx.progress(0, 3, f"pushing {target}")
    pushed = push_image(image.path, None, registry, repo, settings.tag, insecure,
                        username=username, password=password)
    if pushed.digest != image.digest:
        raise StoreError(f"pushed {pushed.digest}, but the run built {image.digest}")
    reference = f"oci://{target}@{pushed.digest}"
    artifacts = [Artifact(name="image", path=reference, digest=pushed.digest, size=image.size,
                          media_type=image.media_type)]
    notes = []
    if record:
        ctx.progress(1, 3, "pushing the signature")
        try:
            payload = base64.b64decode(record["payload"], validate=True)
            raw_signature = base64.b64decode(record["signature"], validate=True)
        except binascii.Error:
            raise StoreError(f"image signature in {folder} is not base64") from None
        signature = ImageSignature(str(record["reference"]), image.digest, payload,
                                   raw_signature, str(record["key_id"]))
        stored = push_signature(client, repo, signature)
        artifacts.append(Artifact(name="image.sig", path=f"oci://{target}:{stored.signature_tag}",
                                  digest=stored.signature_manifest, size=0,
                                  media_type="application/vnd.oci.image.manifest.v1+json"))
        notes.append(f"signature {stored.signature_tag} + referrer")
        attestation = record.get("attestation")
        if isinstance(attestation, str) and attestation == IMAGE_ATTESTATION_NAME:
            ctx.progress(2, 3, "pushing the attestation")
            envelope = (folder / IMAGE_ATTESTATION_NAME).read_bytes()
            referrer = push_attestation(client, repo, image.digest, envelope)
            artifacts.append(Artifact(name="image.attestation",
                                      path=f"oci://{target}@{referrer}", digest=referrer,
                                      size=len(envelope),
                                      media_type="application/vnd.oci.image.manifest.v1+json"))
            notes.append("scan attestation")
    ctx.progress(3, 3, "pushed")
    shown = f"{target}:{settings.tag}" if settings.tag else target
    return StepResult(
        status=StepStatus.PASSED, artifacts=tuple(artifacts),
        metrics={"images_stored": 1.0, "blobs_uploaded": float(pushed.blobs_uploaded),
                 "blobs_present": float(pushed.blobs_present)},
        message=f"pushed {shown}@{pushed.digest} ({pushed.blobs_uploaded} blob(s) uploaded, "
        f"{pushed.blobs_present} already there)"
        + (f" with its {' and '.join(notes)}" if notes else "; UNSIGNED (no sign step signed "
           "this image)"))


class StoreStep(StepKind[StoreStepSettings]):
    kind = "store"
    summary = ("publish the run's artifacts (signed model first) to a store, manifest last; or "
               "push the built image and its signature to an OCI registry")
    Settings = StoreStepSettings
    produces_metrics = ("files_stored", "bytes_stored", "images_stored", "blobs_uploaded",
                        "blobs_present")

    def run(self, ctx: StepContext, settings: StoreStepSettings) -> StepResult:
        steps = ctx.earlier
        if signs_image(settings.subject, steps):
            return store_image(ctx, settings)
        secrets = resolver_for(ctx)
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
