"""Verifying a signed model and its attestation together (used by ``verify``, ``load`` and the
CLI): the signature, then the attestation's signature, subjects and policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from secpipe.keys.signers import SigstoreIdentity
from secpipe.provenance.attestation import check_subjects, verify_envelope
from secpipe.provenance.keyless import verify_keyless
from secpipe.provenance.modelsig import VerificationFailed, sha256_hex, verify_model
from secpipe.provenance.policy import Requirement, evaluate_policy

SUBJECT_PREFIX = "model"


def subject_names(files: dict[str, str], model: Path) -> dict[str, str]:
    """Model-signing file ids -> attestation subject names (``model/<file>``)."""
    if set(files) == {"."}:
        return {f"{SUBJECT_PREFIX}/{model.name}": files["."]}
    return {f"{SUBJECT_PREFIX}/{name}": digest for name, digest in files.items()}


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of one verification."""

    failures: tuple[str, ...]
    """One line per failed check; empty when everything verified."""
    files: dict[str, str] = field(default_factory=dict)
    """The signed model files (subject name -> SHA-256 hex) when the signature verified."""
    statement: dict[str, Any] | None = None
    """The verified attestation statement, if one was checked."""

    @property
    def passed(self) -> bool:
        return not self.failures


def verify_all(model: Path, signature: Path, public_pem: bytes | SigstoreIdentity,
               attestation: Path | None, requirements: Sequence[Requirement] = (),
               sbom: Path | None = None) -> VerifyReport:
    """Verify the model's signature, then (when given) the attestation, the SBOM it binds and
    the policy. With a :class:`SigstoreIdentity` (``key: sigstore``) the signature is checked
    keylessly; keyless runs carry no attestation, so an attestation or a policy then fails."""
    try:
        if isinstance(public_pem, SigstoreIdentity):
            digests = verify_keyless(model, signature, public_pem, public_pem.timeout)
        else:
            digests = verify_model(model, signature, public_pem)
        files = subject_names(digests, model)
    except VerificationFailed as exc:
        return VerifyReport((str(exc),))
    if isinstance(public_pem, SigstoreIdentity):
        failures = []
        if attestation is not None:
            failures.append(f"attestation {attestation.name}: keyless (key: sigstore) runs are "
                            "not attested, so it cannot be verified")
        if requirements:
            failures.append("a policy was given but keyless signing (key: sigstore) writes no "
                            "attestation to check it against")
        return VerifyReport(tuple(failures), files)
    if attestation is None:
        if requirements:
            return VerifyReport(("a policy was given but there is no attestation to check",),
                                files)
        return VerifyReport((), files)
    try:
        raw = attestation.read_bytes()
    except OSError as exc:
        return VerifyReport((f"attestation {attestation.name}: cannot read ({exc.strerror})",),
                            files)
    try:
        statement = verify_envelope(raw, public_pem)
        check_subjects(statement, files)
    except VerificationFailed as exc:
        return VerifyReport((f"attestation {attestation.name}: {exc}",), files)
    failures = [f"policy: {line}" for line in evaluate_policy(statement, requirements)]
    attested = statement.get("predicate", {}).get("sbom")
    if isinstance(attested, dict) and sbom is not None:
        expected = attested.get("digest", {}).get("sha256")
        if not sbom.is_file() or sha256_hex(sbom) != expected:
            failures.append(f"SBOM {sbom.name} does not match the digest the attestation signed")
    return VerifyReport(tuple(failures), files, statement)
