"""In-toto statements of a run, DSSE-signed, and the verification policy over them."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from secpipe.core.artifacts import Artifact
from secpipe.core.errors import ConfigError
from secpipe.core.findings import Finding, Location, Severity
from secpipe.core.results import GateDecision, StepStatus
from secpipe.keys.signers import LocalKeyFile
from secpipe.provenance.attestation import (
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    build_statement,
    check_subjects,
    sign_statement,
    verify_envelope,
)
from secpipe.provenance.modelsig import VerificationFailed
from secpipe.provenance.policy import evaluate_policy, parse_policy
from secpipe.runstore.records import StepRecord

DIGEST = "ab" * 32


def _steps() -> list[StepRecord]:
    finding = Finding.create(rule_id="pickle.global", title="t", severity=Severity.HIGH,
                             scanner="scan-models", location=Location(path="m.pkl"), message="m")
    return [
        StepRecord("train", "train", "train", StepStatus.PASSED, 0.0, 1.0, tool="secpipe 0.1",
                   artifacts=(Artifact("data:data/train.csv", "/p/data/train.csv",
                                       "sha256:" + "cd" * 32, 10),
                              Artifact("model", "/p/m.skops", "sha256:" + DIGEST, 5))),
        StepRecord("models", "scan-models", "model-scan", StepStatus.PASSED, 0.0, 1.0,
                   tool="secpipe 0.1", findings=(finding,)),
        StepRecord("model-gate", "gate", "model-gate", StepStatus.PASSED, 0.0, 0.1,
                   gate=GateDecision(passed=True, counted=1)),
    ]


def test_statement_records_steps_tools_verdicts_gates_and_training_data() -> None:
    statement = build_statement({"model/m.skops": DIGEST}, "mlsecops", "run-1", _steps())
    assert statement["_type"] == STATEMENT_TYPE
    assert statement["subject"] == [{"name": "model/m.skops", "digest": {"sha256": DIGEST}}]
    assert statement["predicateType"] == PREDICATE_TYPE
    predicate = statement["predicate"]
    assert predicate["pipeline"] == "mlsecops" and predicate["runId"] == "run-1"
    scan = next(s for s in predicate["steps"] if s["kind"] == "scan-models")
    assert scan == {"id": "models", "kind": "scan-models", "stage": "model-scan",
                    "status": "passed", "tool": "secpipe 0.1", "findings": {"high": 1},
                    "skipped": 0, "message": ""}
    assert predicate["gates"] == [{"id": "model-gate", "passed": True, "reasons": [],
                                   "counted": 1, "suppressed": 0}]
    assert predicate["trainingData"] == [{"name": "data/train.csv",
                                          "digest": {"sha256": "cd" * 32}, "step": "train"}]


def test_envelope_round_trip_and_subject_check(tmp_path: Path) -> None:
    key = LocalKeyFile(tmp_path / "k.pem")
    statement = build_statement({"model/m.skops": DIGEST}, "mlsecops", "run-1", _steps())
    envelope = sign_statement(statement, key)
    assert json.loads(envelope)["payloadType"] == "application/vnd.in-toto+json"
    assert verify_envelope(envelope, key.public_pem()) == statement
    check_subjects(statement, {"model/m.skops": DIGEST})
    with pytest.raises(VerificationFailed, match=r"does not cover model file model/m.skops"):
        check_subjects(statement, {"model/m.skops": "ef" * 32})


def test_edited_statement_or_other_key_does_not_verify(tmp_path: Path) -> None:
    key = LocalKeyFile(tmp_path / "k.pem")
    statement = build_statement({"model/m.skops": DIGEST}, "mlsecops", "run-1", _steps())
    envelope = json.loads(sign_statement(statement, key))
    statement["predicate"]["steps"][1]["status"] = "passed"
    statement["predicate"]["gates"][0]["passed"] = True
    statement["predicate"]["runId"] = "run-2"
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    with pytest.raises(VerificationFailed, match="does not verify"):
        verify_envelope(json.dumps(envelope).encode(), key.public_pem())
    good = sign_statement(build_statement({"m": DIGEST}, "p", "r", []), key)
    with pytest.raises(VerificationFailed, match="does not verify"):
        verify_envelope(good, LocalKeyFile(tmp_path / "other.pem").public_pem())
    with pytest.raises(VerificationFailed, match="not a DSSE envelope"):
        verify_envelope(b"[]", key.public_pem())


def test_policy_requirements_pass_and_fail_with_reasons() -> None:
    statement = build_statement({"m": DIGEST}, "mlsecops", "run-1", _steps())
    assert evaluate_policy(statement, parse_policy(["scan-models passed", "gates passed",
                                                    "train ran", "models passed"])) == []
    failures = evaluate_policy(statement, parse_policy(["scan-code ran", "probe-llm passed"]))
    assert failures == ["scan-code ran: no step scan-code ran in run run-1",
                        "probe-llm passed: no step probe-llm ran in run run-1"]
    failed = _steps()
    failed[1] = StepRecord("models", "scan-models", "model-scan", StepStatus.ERROR, 0.0, 1.0)
    statement = build_statement({"m": DIGEST}, "mlsecops", "run-1", failed)
    assert evaluate_policy(statement, parse_policy(["scan-models passed"])) == [
        "scan-models passed: step models ended error"]


def test_empty_or_malformed_policy_is_an_error() -> None:
    with pytest.raises(ConfigError, match="empty"):
        parse_policy([])
    with pytest.raises(ConfigError, match="'NAME ran' or 'NAME passed'"):
        parse_policy(["scan-models is fine"])


def test_hostile_envelopes_are_refused_not_crashed(tmp_path: Path) -> None:
    key = LocalKeyFile(tmp_path / "k.pem")
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(VerificationFailed, match="not a DSSE envelope"):
        verify_envelope(deep, key.public_pem())
    from secpipe.provenance.modelsig import IN_TOTO_PAYLOAD_TYPE, pae

    payload = deep
    envelope = {"payloadType": IN_TOTO_PAYLOAD_TYPE,
                "payload": base64.b64encode(payload).decode(),
                "signatures": [{"sig": base64.b64encode(
                    key.sign(pae(IN_TOTO_PAYLOAD_TYPE, payload))).decode()}]}
    with pytest.raises(VerificationFailed, match="not JSON"):
        verify_envelope(json.dumps(envelope).encode(), key.public_pem())
