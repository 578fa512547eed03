"""The ``sign`` step: sign the run's model and attest what the run checked, with one key."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

from secpipe.core.artifacts import Artifact
from secpipe.core.errors import InputError
from secpipe.core.results import StepResult, StepStatus, StepView
from secpipe.core.step import StepContext, StepKind
from secpipe.keys.refs import resolver_for
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


class SignSettings(KeySettings):
    """``sign``: which model, which key, and whether to attest."""

    model: str | None = None
    """Model file or folder, relative to the project (default: the ``model`` artifact of an
    earlier step of the run, e.g. ``train``)."""
    attest: bool = True
    """Also write a signed in-toto attestation of every step that ran."""
    sbom: bool = True
    """Also write a CycloneDX 1.6 SBOM / AI-BOM (dependencies, model, datasets), bound into the
    attestation."""
    workers: int | None = Field(default=None, ge=1, le=64)
    """Files hashed in parallel (default: the library's choice)."""

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


def find_model(ctx: StepContext, settings: SignSettings, steps: Sequence[StepView]) -> Path | None:
    """``with.model`` (which must exist), else the last ``model`` artifact of the run, else None."""
    if settings.model:
        path = Path(settings.model)
        path = path if path.is_absolute() else ctx.project_root / path
        if not path.exists():
            raise InputError(f"model {settings.model} does not exist (with.model)")
        return path
    for step in reversed(steps):
        for artifact in step.artifacts:
            if artifact.name == "model":
                return Path(artifact.path)
    return None


def model_artifacts(model: Path, files: dict[str, str]) -> list[Artifact]:
    """The model's files as artifacts named like the attestation subjects."""
    out = []
    for name, digest in sorted(subject_names(files, model).items()):
        rel = name.removeprefix(SUBJECT_PREFIX + "/")
        path = model if model.is_file() else model / rel
        out.append(Artifact(name=name, path=str(path), digest=f"sha256:{digest}",
                            size=path.stat().st_size))
    return out


class SignStep(StepKind[SignSettings]):
    kind = "sign"
    summary = "sign the model (OpenSSF model-signing) and attest the run (in-toto, DSSE)"
    Settings = SignSettings

    def run(self, ctx: StepContext, settings: SignSettings) -> StepResult:
        steps = ctx.earlier
        model = find_model(ctx, settings, steps)
        if model is None:
            return StepResult(status=StepStatus.PASSED, metrics={"model_files": 0.0},
                              message="nothing signed: no earlier step produced a 'model' "
                              "artifact (set with.model to sign a file or folder)")
        out = Path(ctx.workdir)
        out.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
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
