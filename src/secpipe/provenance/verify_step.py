"""The ``verify`` step: check a model's signature, its attestation and a policy over it."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from pydantic import Field

from secpipe.core.errors import InputError
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind
from secpipe.keys.refs import resolver_for
from secpipe.keys.signers import trusted_public_key
from secpipe.provenance.check import verify_all
from secpipe.provenance.policy import parse_policy
from secpipe.provenance.sbom import SBOM_NAME
from secpipe.provenance.settings import KeySettings
from secpipe.provenance.sign_step import (
    ATTESTATION_NAME,
    SIGNATURE_NAME,
    SIGNING_INFO_NAME,
    library_version,
)


class VerifySettings(KeySettings):
    """``verify``: what to check (default: what an earlier ``sign`` step of the run wrote)."""

    model: str | None = None
    """Model file or folder (relative to the project)."""
    signature: str | None = None
    """Its signature bundle."""
    attestation: str | None = None
    """Its attestation (DSSE envelope); required when ``require`` is set."""
    sbom: str | None = None
    """The CycloneDX SBOM the attestation binds (checked against its attested digest)."""
    require: list[str] = Field(default_factory=list)
    """Policy over the attestation, e.g. ``["scan-models passed", "gates passed"]``."""


def _project_path(ctx: StepContext, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else ctx.project_root / path


class VerifyStep(StepKind[VerifySettings]):
    kind = "verify"
    summary = "verify a model's signature and attestation against a trusted key and a policy"
    Settings = VerifySettings
    produces_metrics = ("verified_files",)

    def run(self, ctx: StepContext, settings: VerifySettings) -> StepResult:
        requirements = parse_policy(settings.require) if settings.require else []
        model = _project_path(ctx, settings.model) if settings.model else None
        signature = _project_path(ctx, settings.signature) if settings.signature else None
        attestation = _project_path(ctx, settings.attestation) if settings.attestation else None
        sbom = _project_path(ctx, settings.sbom) if settings.sbom else None
        if model is None or signature is None:
            for step in reversed(ctx.earlier):
                names = {a.name: Path(a.path) for a in step.artifacts}
                if step.kind == "sign" and SIGNATURE_NAME in names:
                    signature = signature or names[SIGNATURE_NAME]
                    attestation = attestation or names.get(ATTESTATION_NAME)
                    sbom = sbom or names.get(SBOM_NAME)
                    if model is None:
                        model = _signed_model(names)
                    break
        if model is None or signature is None:
            raise InputError("nothing to verify: set with.model and with.signature "
                             "(no earlier sign step in this run)")
        public = trusted_public_key(settings.key, settings.public_key, ctx.project_root,
                                    resolver_for(ctx), settings.options(), ctx.state)
        report = verify_all(model, signature, public, attestation, requirements, sbom)
        if not report.passed:
            return StepResult(status=StepStatus.FAILED, tool=library_version(),
                              message="verification failed: " + "; ".join(report.failures))
        checked = "signature" + (", attestation" if report.statement else "") + (
            f", {len(requirements)} policy requirement(s)" if requirements else "")
        return StepResult(status=StepStatus.PASSED, tool=library_version(),
                          metrics={"verified_files": float(len(report.files))},
                          message=f"verified {model.name}: {checked}")


def _signed_model(names: dict[str, Path]) -> Path | None:
    """The model a sign step signed, from its artifacts (``model/<rel>`` -> local path)."""
    info_path = names.get(SIGNING_INFO_NAME)
    if info_path is None:
        return None
    try:
        label = str(json.loads(info_path.read_text(encoding="utf-8"))["model"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if label in names:  # a single file
        return names[label]
    for name, path in names.items():
        if name.startswith(label + "/"):
            depth = len(PurePosixPath(name.removeprefix(label + "/")).parts)
            return path.parents[depth - 1]
    return None
