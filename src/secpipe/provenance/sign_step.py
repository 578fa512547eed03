"""The ``sign`` step: sign the run's model (or its container image) and attest what the run
checked, with one key.

With ``subject: image`` (and by default when an earlier step of the run is a ``build-image``
step, as in ``devsecops``'s ``sign-image``), the ``image`` artifact of that step is signed
instead: a cosign simple-signing payload over its manifest digest naming ``reference``
(``HOST/REPO``, where ``store`` pushes it), plus a DSSE in-toto attestation of the run's scan
verdicts (findings per scanner, gate decisions). Both are written into the step's folder
(:data:`IMAGE_SIGNATURE_NAME`, :data:`IMAGE_ATTESTATION_NAME`); a later ``store`` step of the
image pushes them into the registry beside the image (``docs/image-signing.md``).

The model is ``with.model`` (a path or a glob relative to the project: the file the project's app
loads, say) or else the ``model`` artifact of an earlier step (``train``). A glob must match one
file or folder: several matches are refused (name the file, or the folder holding them), so the
subject of the signature is never a guess. :func:`match_project` is the one safe matcher of
project paths (``store``'s ``paths`` use it too): no ``..``, nothing outside the project, no
symbolic link followed out of it, the state folder never matched.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator, Sequence
from fnmatch import fnmatchcase
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from secpipe import __version__
from secpipe.core.artifacts import Artifact
from secpipe.core.errors import ConfigError, InputError
from secpipe.core.results import StepResult, StepStatus, StepView
from secpipe.core.step import StepContext, StepKind
from secpipe.keys.refs import resolver_for
from secpipe.keys.signers import is_keyless, legacy_key_warning, open_signing_key
from secpipe.provenance.attestation import (
    DSSE_MEDIA_TYPE,
    build_statement,
    sign_statement,
    training_data,
)
from secpipe.provenance.check import SUBJECT_PREFIX, subject_names
from secpipe.provenance.modelsig import BUNDLE_MEDIA_TYPE, write_atomic
from secpipe.provenance.sbom import SBOM_MEDIA_TYPE, SBOM_NAME, build_sbom
from secpipe.provenance.settings import KeySettings
from secpipe.provenance.signing import check_keyless, sign_with

SIGNATURE_NAME = "model.sig"
ATTESTATION_NAME = "attestation.dsse.json"
SIGNING_INFO_NAME = "signing.json"
SIGNING_INFO_MEDIA_TYPE = "application/vnd.secpipe.signing+json"
IMAGE_SIGNATURE_NAME = "image.sig.json"
"""The image signature record: reference, digest, base64 payload and signature, key id."""
IMAGE_ATTESTATION_NAME = "image.attestation.dsse.json"
IMAGE_SIGNATURE_MEDIA_TYPE = "application/vnd.secpipe.image-signature+json"
IMAGE_ARTIFACT = "image"
BUILD_IMAGE_KIND = "build-image"
MAX_GATE_REASONS = 20


class SignSettings(KeySettings):
    """``sign``: which model, which key, and whether to attest."""

    model: str | None = None
    """Model file or folder, or a glob matching exactly one (``models/*.pkl``), relative to the
    project (default: the ``model`` artifact of an earlier step of the run, e.g. ``train``)."""
    attest: bool = True
    """Also write a signed in-toto attestation of every step that ran."""
    sbom: bool = True
    """Also write a CycloneDX 1.6 SBOM / AI-BOM (dependencies, model, datasets), bound into the
    attestation."""
    workers: int | None = Field(default=None, ge=1, le=64)
    """Files hashed in parallel (default: the library's choice)."""
    subject: Literal["auto", "model", "image"] = "auto"
    """What to sign: ``model``, ``image`` (the ``image`` artifact of an earlier
    ``build-image`` step), or ``auto``: the image when the run has a ``build-image`` step
    before this one, else the model."""
    reference: str | None = None
    """Image signing: ``HOST/REPO`` the signature names (where ``store`` pushes the image, e.g.
    ``127.0.0.1:5050/example-serve``); verification checks the registry and repository
    against it."""

    @field_validator("reference")
    @classmethod
    def _reference(cls, value: str | None) -> str | None:
        if value is not None:
            split_reference(value)
        return value

    @field_validator("model")
    @classmethod
    def _model_in_project(cls, value: str | None) -> str | None:
        if value is not None:
            check_pattern(value)
        return value

    @model_validator(mode="after")
    def _keyless_attest(self) -> Self:
        if self.keyless:
            check_keyless(self.attest, self.identity_token)
        return self


def library_version() -> str:
    try:
        return f"model-signing {version('model-signing')}"
    except PackageNotFoundError:
        return "model-signing"


_MAGIC = frozenset("*?[")
MAX_VISITED = 200_000
"""Folder entries one pattern may visit before matching gives up (an error, never a partial)."""


def has_magic(pattern: str) -> bool:
    """True when ``pattern`` is a glob (``*``, ``?``, ``[``), not a plain path."""
    return any(c in _MAGIC for c in pattern)


def check_pattern(pattern: str) -> str:
    """``pattern`` if it cannot climb out of the project (no ``..`` segment, not empty); else a
    ValueError (settings validation turns it into a configuration error naming the key)."""
    if not pattern.strip():
        raise ValueError("an empty path")
    if ".." in pattern.replace("\\", "/").split("/"):
        raise ValueError(f"{pattern!r} climbs out of the project ('..')")
    return pattern


def _inside(real_root: Path, path: Path) -> bool:
    return path.resolve().is_relative_to(real_root)


def match_project(root: Path, pattern: str, what: str, exclude: Sequence[Path] = ()) -> list[Path]:
    """The files and folders of the project ``pattern`` names, sorted: a plain path must exist
    (an :class:`InputError` naming ``what`` otherwise); a glob (``*`` and ``?`` within a name,
    ``**`` across folders) may match nothing. Names starting with ``.`` match only a pattern
    segment that starts with ``.``; ``exclude`` folders (the state folder) are never matched;
    a symbolic link is matched only when it resolves inside the project and ``**`` never
    descends into one."""
    try:
        check_pattern(pattern)
    except ValueError as exc:
        raise InputError(f"{what} {exc}") from None
    real_root = root.resolve()
    rel = pattern.replace("\\", "/")
    if Path(rel).is_absolute():
        if not _inside(real_root, Path(rel)):
            raise InputError(f"{what} {pattern} is outside the project")
        rel = Path(rel).resolve().relative_to(real_root).as_posix()
    segments = [s for s in rel.split("/") if s not in ("", ".")]
    excluded = {p.resolve() for p in exclude}
    if not has_magic(rel):
        path = root.joinpath(*segments)
        if not path.exists():
            raise InputError(f"{what} {pattern} does not exist")
        if not _inside(real_root, path):
            raise InputError(f"{what} {pattern} leads outside the project (symbolic link)")
        if path.resolve() in excluded or any(path.resolve().is_relative_to(e) for e in excluded):
            raise InputError(f"{what} {pattern} is inside secpipe's state folder")
        return [path]
    visited = [0]

    def children(folder: Path, segment: str) -> Iterator[Path]:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            visited[0] += 1
            if visited[0] > MAX_VISITED:
                raise InputError(f"{what} {pattern}: more than {MAX_VISITED} entries visited; "
                                 "name a narrower pattern")
            if entry.name.startswith(".") and not segment.startswith("."):
                continue
            path = Path(entry.path)
            if path.resolve() in excluded:
                continue
            if entry.is_symlink() and not _inside(real_root, path):
                continue
            yield path

    def descend(base: Path, rest: list[str]) -> Iterator[Path]:
        if not rest:
            yield base
            return
        head, tail = rest[0], rest[1:]
        if not base.is_dir():
            return
        if head == "**":
            yield from descend(base, tail)
            for child in children(base, "*"):
                if child.is_dir() and not child.is_symlink():
                    yield from descend(child, rest)
            return
        for child in children(base, head):
            if fnmatchcase(child.name, head):
                yield from descend(child, tail)

    found = {p.relative_to(root).as_posix(): p for p in descend(root, segments)
             if p != root and p.exists()}
    return [found[k] for k in sorted(found)]


def find_model(ctx: StepContext, settings: SignSettings,
               steps: Sequence[StepView]) -> Path | str:
    """``with.model`` (a plain path must exist, a glob must match one file or folder), else the
    last ``model`` artifact of the run; a string saying why nothing is to be signed otherwise."""
    if settings.model:
        matches = match_project(ctx.project_root, settings.model, "model", (ctx.state,))
        if not matches:
            return f"nothing found: with.model {settings.model!r} matched no file in the project"
        if len(matches) > 1:
            shown = ", ".join(m.relative_to(ctx.project_root).as_posix() for m in matches[:5])
            more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
            raise InputError(f"with.model {settings.model!r} matched {len(matches)} paths "
                             f"({shown}{more}); sign signs one model",
                             hint="name one file, or the folder holding the model's files")
        return matches[0]
    for step in reversed(steps):
        for artifact in step.artifacts:
            if artifact.name == "model":
                return Path(artifact.path)
    return ("not configured: no with.model and no earlier step of the run produced a 'model' "
            "artifact (set with.model to the model file the project ships, e.g. model.pkl)")


def model_artifacts(model: Path, files: dict[str, str]) -> list[Artifact]:
    """The model's files as artifacts named like the attestation subjects."""
    out = []
    for name, digest in sorted(subject_names(files, model).items()):
        rel = name.removeprefix(SUBJECT_PREFIX + "/")
        path = model if model.is_file() else model / rel
        out.append(Artifact(name=name, path=str(path), digest=f"sha256:{digest}",
                            size=path.stat().st_size))
    return out


def split_reference(reference: str) -> tuple[str, str]:
    """``(host, repository)`` of ``HOST/REPO`` (no scheme, no tag, no digest); ValueError
    otherwise."""
    from secpipe.images.registry import RegistryError, check_repo

    host, _, repo = reference.strip().partition("/")
    if not host or not repo or "://" in reference or "@" in repo or any(
            c.isspace() for c in reference) or ":" in repo:
        raise ValueError(f"{reference[:120]!r}: write the image reference as HOST/REPO "
                         "(e.g. 127.0.0.1:5050/team/app), without a scheme, tag or digest")
    try:
        check_repo(repo)
    except RegistryError as exc:
        raise ValueError(exc.message) from None
    return host, repo


def built_image(steps: Sequence[StepView]) -> Artifact | None:
    """The last local ``image`` artifact (OCI layout + manifest digest) of the run's steps."""
    for step in reversed(steps):
        for artifact in step.artifacts:
            if artifact.name == IMAGE_ARTIFACT and "://" not in artifact.path:
                return artifact
    return None


def signs_image(subject: str, steps: Sequence[StepView]) -> bool:
    """Whether a ``sign`` (or ``store``) step with ``subject`` works on the image of the run."""
    if subject != "auto":
        return subject == "image"
    return built_image(steps) is not None or any(s.kind == BUILD_IMAGE_KIND for s in steps)


def scan_verdicts(steps: Sequence[StepView]) -> dict[str, Any]:
    """What the run's scanners found (findings per step, by severity) and its gates decided."""
    scanners: dict[str, Any] = {}
    gates: dict[str, Any] = {}
    for step in steps:
        if step.gate is not None:
            gates[step.step_id] = {"passed": step.gate.passed,
                                   "reasons": list(step.gate.reasons[:MAX_GATE_REASONS])}
        elif step.kind.startswith("scan-"):
            severities: dict[str, int] = {}
            for finding in step.findings:
                key = finding.severity.value
                severities[key] = severities.get(key, 0) + 1
            scanners[step.step_id] = {"kind": step.kind, "status": step.status.value,
                                      "findings": len(step.findings),
                                      "by_severity": dict(sorted(severities.items()))}
    return {"scanners": scanners, "gates": gates}


def sign_image_step(ctx: StepContext, settings: SignSettings) -> StepResult:
    """The ``sign`` step on the run's image: signature and attestation written as files."""
    from secpipe.images.signing import attest_image, sign_image

    steps = ctx.earlier
    image = built_image(steps)
    if image is None:
        return StepResult(status=StepStatus.SKIPPED, metrics={"images_signed": 0.0},
                          message="nothing found: no image built (no earlier step of the run "
                          "produced an 'image' artifact)")
    if not settings.reference:
        return StepResult(status=StepStatus.SKIPPED, metrics={"images_signed": 0.0},
                          message="not configured: signing an image needs with.reference, "
                          "the HOST/REPO it is pushed to (e.g. 127.0.0.1:5050/team/app)")
    secrets = resolver_for(ctx)
    ref = secrets.resolve(settings.key.strip(), "key") if settings.key else None
    if is_keyless(ref):
        raise ConfigError(f"{ctx.step_id or 'sign'}.with.key: keyless (sigstore) signing of "
                          "images is not supported; use file:, vault-transit: or awskms:")
    started = time.monotonic()
    key = open_signing_key(settings.key, ctx.project_root, secrets, settings.options(),
                           ctx.state)
    reference = settings.reference.strip()
    annotations = {"pipeline": ctx.pipeline or "adhoc", "run": ctx.run_id}
    signed = sign_image(image.digest, key, reference, annotations)
    out = Path(ctx.workdir)
    out.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "reference": reference, "digest": image.digest, "layout": image.path,
        "payload": base64.b64encode(signed.payload).decode("ascii"),
        "signature": signed.signature_b64, "key_id": signed.key_id, "key": key.label,
        "attestation": None,
    }
    artifacts: list[Artifact] = []
    if settings.attest:
        envelope = attest_image(image.digest, scan_verdicts(steps), key, reference)
        write_atomic(out / IMAGE_ATTESTATION_NAME, envelope)
        artifacts.append(Artifact.from_file(IMAGE_ATTESTATION_NAME, out / IMAGE_ATTESTATION_NAME,
                                            DSSE_MEDIA_TYPE))
        record["attestation"] = IMAGE_ATTESTATION_NAME
    write_atomic(out / IMAGE_SIGNATURE_NAME, json.dumps(record, indent=2).encode("utf-8"))
    artifacts.insert(0, Artifact.from_file(IMAGE_SIGNATURE_NAME, out / IMAGE_SIGNATURE_NAME,
                                           IMAGE_SIGNATURE_MEDIA_TYPE))
    ctx.log(f"signed image {reference}@{image.digest} with {key.label}")
    return StepResult(
        status=StepStatus.PASSED, artifacts=tuple(artifacts), tool=f"secpipe {__version__}",
        metrics={"images_signed": 1.0, "sign_seconds": round(time.monotonic() - started, 4)},
        message=f"signed image {reference}@{image.digest} with {key.label}"
        + (" and attested the scan verdicts" if record["attestation"] else "")
        + " (pushed by the store step)")


class SignStep(StepKind[SignSettings]):
    kind = "sign"
    summary = ("sign the model (OpenSSF model-signing) or the built image (cosign format) and "
               "attest the run (in-toto, DSSE)")
    Settings = SignSettings
    produces_metrics = ("model_files", "model_bytes", "sign_seconds", "images_signed")

    def run(self, ctx: StepContext, settings: SignSettings) -> StepResult:
        steps = ctx.earlier
        if signs_image(settings.subject, steps):
            return sign_image_step(ctx, settings)
        model = find_model(ctx, settings, steps)
        if isinstance(model, str):
            return StepResult(status=StepStatus.SKIPPED, metrics={"model_files": 0.0},
                              message=model)
        out = Path(ctx.workdir)
        out.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        legacy = legacy_key_warning(ctx.project_root, ctx.state)
        if legacy and not settings.key:
            ctx.log(legacy)
        made = sign_with(model, out / SIGNATURE_NAME, settings.key, project_root=ctx.project_root,
                         secrets=resolver_for(ctx), options=settings.options(),
                         state_dir=ctx.state, attest=settings.attest,
                         what=f"{ctx.step_id or 'sign'}.with", workers=settings.workers,
                         timeout=ctx.timeout)
        signed, label, key = made.signed, made.label, made.key
        elapsed = time.monotonic() - started
        artifacts = model_artifacts(model, signed.files)
        artifacts.append(Artifact.from_file(SIGNATURE_NAME, signed.signature, BUNDLE_MEDIA_TYPE))
        info = {
            "model": f"{SUBJECT_PREFIX}/{model.name}" if model.is_file() else SUBJECT_PREFIX,
            "signature": SIGNATURE_NAME,
            "key_id": signed.key_id,
            "key": label,
            "attestation": None,
            "sbom": None,
        }
        sbom_digest = None
        if settings.sbom:
            datasets = {d["name"]: d["digest"]["sha256"] for d in training_data(steps)}
            write_atomic(out / SBOM_NAME, build_sbom(ctx.project_root, ctx.project_root.name,
                                                     ctx.run_id, subject_names(signed.files,
                                                                               model), datasets))
            sbom_artifact = Artifact.from_file(SBOM_NAME, out / SBOM_NAME, SBOM_MEDIA_TYPE)
            artifacts.append(sbom_artifact)
            sbom_digest = sbom_artifact.digest.removeprefix("sha256:")
            info["sbom"] = SBOM_NAME
        if settings.attest and key is not None:
            statement = build_statement(subject_names(signed.files, model), ctx.pipeline,
                                        ctx.run_id, steps, sbom_digest=sbom_digest)
            write_atomic(out / ATTESTATION_NAME, sign_statement(statement, key))
            artifacts.append(Artifact.from_file(ATTESTATION_NAME, out / ATTESTATION_NAME,
                                                DSSE_MEDIA_TYPE))
            info["attestation"] = ATTESTATION_NAME
        write_atomic(out / SIGNING_INFO_NAME, json.dumps(info, indent=2).encode("utf-8"))
        artifacts.append(Artifact.from_file(SIGNING_INFO_NAME, out / SIGNING_INFO_NAME,
                                            SIGNING_INFO_MEDIA_TYPE))
        size = sum(a.size for a in artifacts if a.name.startswith(SUBJECT_PREFIX + "/"))
        ctx.log(f"signed {model} with {label} (key id {signed.key_id[:24]})")
        return StepResult(
            status=StepStatus.PASSED, artifacts=tuple(artifacts), tool=library_version(),
            metrics={"model_files": float(len(signed.files)), "model_bytes": float(size),
                     "sign_seconds": round(elapsed, 4)},
            message=f"signed {len(signed.files)} model file(s) with {label}"
            + (" and attested the run" if info["attestation"] else ""),
        )
