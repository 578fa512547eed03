"""In-toto attestations of what a run checked, signed as DSSE envelopes.

The statement (in-toto Statement v1) names the model's files as its subjects (with their SHA-256)
and carries a ``https://secpipe.dev/attestations/pipeline-run/v1`` predicate: the pipeline, the
run id, every step that ran (kind, tool and version, status, finding counts by severity), the gate
decisions and the digests of the training data. It is signed with the same key as the model.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from typing import Any

from secpipe import __version__
from secpipe.core.results import StepView
from secpipe.keys.signers import SigningKey, key_id
from secpipe.provenance.modelsig import IN_TOTO_PAYLOAD_TYPE, VerificationFailed, pae
from secpipe.provenance.sbom import SBOM_MEDIA_TYPE, SBOM_NAME

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://secpipe.dev/attestations/pipeline-run/v1"
DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
MAX_ENVELOPE_BYTES = 16 << 20
MAX_SIGNATURES = 16


def training_data(steps: Iterable[StepView]) -> list[dict[str, Any]]:
    """The datasets train steps recorded (``data:<path>`` artifacts) with their digests."""
    data = []
    for step in steps:
        if step.kind != "train":
            continue
        for artifact in step.artifacts:
            if artifact.name.startswith("data:"):
                algorithm, _, hexdigest = artifact.digest.partition(":")
                data.append({"name": artifact.name.removeprefix("data:"),
                             "digest": {algorithm: hexdigest}, "step": step.step_id})
    return data


def _severities(step: StepView) -> dict[str, int]:
    counts: dict[str, int] = {}
    for finding in step.findings:
        counts[finding.severity.value] = counts.get(finding.severity.value, 0) + 1
    return counts


def build_statement(subjects: Mapping[str, str], pipeline: str, run_id: str,
                    steps: Iterable[StepView], started: float | None = None,
                    sbom_digest: str | None = None) -> dict[str, Any]:
    """The statement for ``subjects`` (name -> SHA-256 hex) after ``steps`` of a run."""
    steps = list(steps)
    predicate: dict[str, Any] = {
        "pipeline": pipeline,
        "runId": run_id,
        "builder": {"id": "https://secpipe.dev/secpipe", "version": __version__},
        "steps": [{
            "id": s.step_id, "kind": s.kind, "stage": s.stage, "status": s.status.value,
            "tool": s.tool, "findings": _severities(s), "skipped": len(s.skipped),
            "message": s.message[:500],
        } for s in steps],
        "gates": [{
            "id": s.step_id, "passed": s.gate.passed, "reasons": list(s.gate.reasons),
            "counted": s.gate.counted, "suppressed": s.gate.suppressed,
        } for s in steps if s.gate is not None],
        "trainingData": training_data(steps),
    }
    if sbom_digest is not None:
        predicate["sbom"] = {"name": SBOM_NAME, "digest": {"sha256": sbom_digest},
                             "mediaType": SBOM_MEDIA_TYPE}
    if started is not None:
        predicate["startedOn"] = started
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": digest}}
                    for name, digest in sorted(subjects.items())],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }
    validate_statement(statement)
    return statement


def validate_statement(statement: Mapping[str, Any]) -> None:
    """Check the statement with the in-toto attestation library (type, subjects, digests)."""
    from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
    from in_toto_attestation.v1.statement import Statement

    try:
        subjects = [ResourceDescriptor(name=s["name"], digest=dict(s["digest"])).pb
                    for s in statement["subject"]]
        Statement(subjects, statement["predicateType"], dict(statement["predicate"])).validate()
        if statement["_type"] != STATEMENT_TYPE:
            raise ValueError("Wrong statement type")
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationFailed(f"not a valid in-toto statement: {exc}") from None


def sign_statement(statement: Mapping[str, Any], key: SigningKey) -> bytes:
    """A DSSE envelope (JSON) over the statement, signed by ``key``."""
    payload = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode("utf-8")
    signature = key.sign(pae(IN_TOTO_PAYLOAD_TYPE, payload))
    envelope = {
        "payloadType": IN_TOTO_PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [{"keyid": key_id(key.public_pem()),
                        "sig": base64.b64encode(signature).decode("ascii")}],
    }
    return json.dumps(envelope, indent=2).encode("utf-8")


def verify_envelope(raw: bytes, public_pem: bytes) -> dict[str, Any]:
    """The statement inside a DSSE envelope whose signature verifies with ``public_pem``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    if len(raw) > MAX_ENVELOPE_BYTES:
        raise VerificationFailed("attestation is too large")
    try:
        envelope = json.loads(raw)
        payload_type = envelope["payloadType"]
        payload = base64.b64decode(envelope["payload"], validate=True)
        signatures = envelope["signatures"]
    except (ValueError, KeyError, TypeError, RecursionError, binascii.Error):
        raise VerificationFailed("attestation is not a DSSE envelope") from None
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise VerificationFailed(f"attestation payload type is {payload_type!r}")
    public = serialization.load_pem_public_key(public_pem)
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise VerificationFailed("the trusted key is not an EC key")
    message = pae(payload_type, payload)
    for entry in signatures[:MAX_SIGNATURES] if isinstance(signatures, list) else []:
        try:
            public.verify(base64.b64decode(entry["sig"]), message, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, KeyError, TypeError, ValueError, binascii.Error):
            continue
        try:
            statement = json.loads(payload)
        except (ValueError, RecursionError):
            raise VerificationFailed("attestation payload is not JSON") from None
        if not isinstance(statement, dict):
            raise VerificationFailed("attestation payload is not a statement")
        validate_statement(statement)
        if statement.get("predicateType") != PREDICATE_TYPE:
            raise VerificationFailed(f"attestation predicate is {statement.get('predicateType')!r}")
        return dict(statement)
    raise VerificationFailed("attestation signature does not verify with the trusted key")


def check_subjects(statement: Mapping[str, Any], files: Mapping[str, str]) -> None:
    """Every model file (name -> SHA-256 hex) must be a subject with the same digest."""
    subjects = {s["name"]: s["digest"].get("sha256") for s in statement["subject"]}
    for name, digest in sorted(files.items()):
        if subjects.get(name) != digest:
            raise VerificationFailed(f"attestation does not cover model file {name} "
                                     "with its current digest")
