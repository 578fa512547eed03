"""SARIF 2.1.0 report: valid against the official OASIS schema, and faithful to the run."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from sample_run import build_run, empty_run

from secpipe.core.findings import Finding, Location, Severity
from secpipe.reports import sarif
from secpipe.runstore.records import RunRecord
from secpipe.tools.parsers.sarif import ingest_sarif

SCHEMA_PATH = Path(__file__).parents[1] / "data" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


def _errors(validator: Draft7Validator, doc: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(doc)]


def _log(run: RunRecord) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(sarif.render(run))
    return data


def _run_named(log: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in log["runs"] if r["tool"]["driver"]["name"] == name)


def test_sample_run_validates_against_official_schema(validator: Draft7Validator,
                                                       sample_run: RunRecord) -> None:
    log = _log(sample_run)
    assert _errors(validator, log) == []
    assert log["version"] == "2.1.0"


def test_run_without_steps_or_findings_validates(validator: Draft7Validator,
                                                 tmp_path: Path) -> None:
    for run in (empty_run(tmp_path), build_run(tmp_path, findings=False)):
        log = _log(run)
        assert _errors(validator, log) == []
        assert log["runs"], "a scan always yields at least one SARIF run"
        assert all(r["results"] == [] for r in log["runs"])


def test_schema_is_really_enforced(validator: Draft7Validator, sample_run: RunRecord) -> None:
    log = _log(sample_run)
    broken = copy.deepcopy(log)
    del broken["runs"][0]["results"][0]["message"]
    assert _errors(validator, broken)
    bad_level = copy.deepcopy(log)
    bad_level["runs"][0]["results"][0]["level"] = "critical"
    assert _errors(validator, bad_level)
    bad_uri = copy.deepcopy(log)
    first = bad_uri["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    first["artifactLocation"]["uri"] = "has space"
    assert _errors(validator, bad_uri)


def test_one_run_per_scanner_with_distinct_categories(sample_run: RunRecord) -> None:
    log = _log(sample_run)
    names = [r["tool"]["driver"]["name"] for r in log["runs"]]
    assert names == ["scan-secrets", "scan-models", "gitleaks", "exec", "evaluate"]
    ids = [r["automationDetails"]["id"] for r in log["runs"]]
    assert len(set(ids)) == len(ids)
    gitleaks = _run_named(log, "gitleaks")
    assert gitleaks["tool"]["driver"]["version"] == "8.30.1"
    assert [r["ruleId"] for r in gitleaks["results"]] == ["github-pat"]


def test_levels_rules_and_security_severity(sample_run: RunRecord) -> None:
    log = _log(sample_run)
    secrets = _run_named(log, "scan-secrets")
    levels = {r["ruleId"]: r["level"] for r in secrets["results"]}
    assert levels == {"secrets.aws-access-key": "error", "secrets.hf-token": "error",
                      "secrets.password-assignment": "warning", "secrets.generic": "note",
                      "secrets.jwt": "note"}
    rules = {r["id"]: r for r in secrets["tool"]["driver"]["rules"]}
    aws = rules["secrets.aws-access-key"]
    assert aws["shortDescription"]["text"] == "title of secrets.aws-access-key"
    assert aws["properties"]["security-severity"] == "9.5"
    assert {"security", "CWE-798", "OWASP-A07"} <= set(aws["properties"]["tags"])
    assert "helpUri" not in aws
    for result in secrets["results"]:
        assert secrets["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
    models = _run_named(log, "scan-models")
    (rule,) = models["tool"]["driver"]["rules"]
    assert rule["properties"]["security-severity"] == "9.5"  # the worst of its two results


def test_fingerprints_and_locations(sample_run: RunRecord) -> None:
    log = _log(sample_run)
    by_fp = {r["partialFingerprints"]["secpipe/v1"]: r for run in log["runs"]
             for r in run["results"]}
    assert set(by_fp) == {f.fingerprint for f in sample_run.findings}
    plain = next(r for r in by_fp.values() if r["ruleId"] == "secrets.aws-access-key")
    phys = plain["locations"][0]["physicalLocation"]
    assert phys["artifactLocation"] == {"uri": "src/app/config.py", "uriBaseId": "PROJECTROOT"}
    assert phys["region"] == {"startLine": 12, "startColumn": 5, "endLine": 12}
    cell = next(r for r in by_fp.values() if r["ruleId"] == "secrets.hf-token")["locations"][0]
    assert cell["physicalLocation"]["artifactLocation"]["uri"] == "notebooks/train.ipynb"
    assert "region" not in cell["physicalLocation"]  # a cell line is not a line of the file
    assert cell["logicalLocations"][0] == {
        "name": "cell[3]/outputs[0]", "kind": "member",
        "fullyQualifiedName": "notebooks/train.ipynb!cell[3]/outputs[0]"}
    assert cell["properties"] == {"member": "cell[3]/outputs[0]", "line": 2}
    pickle = next(r for r in by_fp.values()
                  if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                  == "models/model.pkl")
    assert pickle["locations"][0]["physicalLocation"]["region"] == {"byteOffset": 132}
    odd = next(r for r in by_fp.values() if r["ruleId"] == "secrets.generic")["locations"][0]
    uri = odd["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "docs/odd%20name%20%231%20100%25.txt"
    assert odd["properties"]["commit"] == "0123456789abcdef0123"


def test_invocations_errors_and_skipped_inputs(sample_run: RunRecord) -> None:
    log = _log(sample_run)
    models = _run_named(log, "scan-models")["invocations"][0]
    assert models["executionSuccessful"] is False
    assert models["toolExecutionNotifications"][-1]["level"] == "error"
    assert "truncated pickle stream" in models["toolExecutionNotifications"][-1]["message"]["text"]
    secrets = _run_named(log, "scan-secrets")["invocations"][0]
    assert secrets["executionSuccessful"] is True
    (note,) = secrets["toolExecutionNotifications"]
    assert "data/huge.bin" in note["message"]["text"]
    assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "data/huge.bin"
    trivy = _run_named(log, "exec")
    assert trivy["results"] == [] and trivy["invocations"][0]["executionSuccessful"] is True
    assert all("suppressions" not in r for run in log["runs"] for r in run["results"])
    gates = log["properties"]["secpipe"]["gates"]
    assert gates[0]["passed"] is False and gates[0]["step"] == "gate"
    assert not any(r["tool"]["driver"]["name"] in ("gate", "deploy") for r in log["runs"])


def test_round_trip_through_ingest(sample_run: RunRecord, tmp_path: Path) -> None:
    """Our own SARIF read back by the exec step's ingester keeps fingerprints, rules, severities
    and scanners."""
    log = _log(sample_run)
    ingested = ingest_sarif(log, project_root=Path(sample_run.project))
    def key(f: Any) -> tuple[str, str, Severity, str]:
        return (f.fingerprint, f.rule_id, f.severity, f.scanner)
    assert sorted(map(key, ingested.findings)) == sorted(map(key, sample_run.findings))
    back = {f.fingerprint: f for f in ingested.findings}
    for original in sample_run.findings:
        assert back[original.fingerprint].location == original.location
        assert back[original.fingerprint].title == original.title


def test_unicode_paths_and_non_finite_metrics(validator: Draft7Validator, tmp_path: Path) -> None:
    run = build_run(tmp_path)
    odd = Finding.create(rule_id="r", title="t", severity=Severity.HIGH, scanner="scan-secrets",
                         location=Location("données/ü [1].py", line=1), message="m", key="u")
    first = dataclasses.replace(run.steps[0], findings=(odd,),
                                metrics={"roc_auc": math.nan, "lift": math.inf})
    run = dataclasses.replace(run, steps=(first, *run.steps[1:]))
    text = sarif.render(run)  # strict JSON: no NaN/Infinity tokens
    log = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert _errors(validator, log) == []
    inv = _run_named(log, "scan-secrets")["invocations"][0]
    assert inv["properties"]["metrics"] == {"roc_auc": None, "lift": None}
    result = _run_named(log, "scan-secrets")["results"][0]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "donn%C3%A9es/%C3%BC%20%5B1%5D.py"
    (back,) = [f for f in ingest_sarif(log, project_root=tmp_path).findings if f.rule_id == "r"]
    assert back.location.path == "données/ü [1].py" and back.fingerprint == odd.fingerprint
