"""SARIF 2.1.0 report of a run (valid against the OASIS schema; checked in tests/reports).

Shape: **one SARIF run per scanner** (``scan-secrets``, ``gitleaks`` via ``exec`` …), not one run
for all. GitHub code scanning shows each run's ``tool.driver.name`` as the tool of its alerts and
keys alert identity on tool + rule + fingerprint, so per-scanner runs keep an exec-ingested
gitleaks alert a gitleaks alert; each run also gets its own ``automationDetails.id``
(``secpipe/<pipeline>/<scanner>/<run-id>``) so GitHub sees distinct categories instead of several
runs of one tool. DefectDojo's SARIF parser walks every run and reads each run's rules, so the
same shape imports there with the right tool per finding.

- Rules carry ``shortDescription`` (the title), ``help`` (the remediation), ``properties.tags``,
  ``properties.security-severity`` (critical 9.5, high 8.0, medium 5.5, low 2.0, info 0.0; the
  worst of the rule's results) and ``precision``; no ``helpUri`` (we have no rule pages).
- Results: ``level`` critical/high→error, medium→warning, low/info→note; our severity name is kept
  in ``properties.severity`` so a reader (``secpipe.tools.parsers.sarif``) gets it back exactly;
  ``partialFingerprints["secpipe/v1"]`` is our fingerprint.
- Locations: the file's project-relative URI (``uriBaseId`` ``PROJECTROOT``) with a region when
  the line is a line of that file. A position inside a container (archive member, notebook cell,
  pickle inside a zip) is a ``logicalLocation`` of kind ``member`` (``fullyQualifiedName``
  ``path!member``) plus ``properties`` ``member``/``line``/``offset``, because a region there
  would point at the wrong bytes of the container.
- One invocation per step: ``executionSuccessful`` false for steps that errored, and its skipped
  inputs as ``toolExecutionNotifications``. A finding a gate of the run accepted (suppressed with a
  reason, or in the baseline) carries an ``external``/``accepted`` suppression with that reason as
  justification (GitHub closes such alerts). Gate decisions go to the log's ``properties.secpipe``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from secpipe.core.findings import Finding, Location, Severity
from secpipe.core.results import StepStatus
from secpipe.reports.escape import json_text, percent_path, readable_tree
from secpipe.runstore.records import RunRecord, StepRecord

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "secpipe/v1"
BASE_ID = "PROJECTROOT"
INFORMATION_URI = "https://pypi.org/project/secpipe/"

LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
         Severity.LOW: "note", Severity.INFO: "note"}
SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5",
                     Severity.LOW: "2.0", Severity.INFO: "0.0"}
_SAFE_URI = "/!$&'()*+,;=:@-._~"


def utc(ts: float) -> str:
    """SARIF date-time: ``2026-11-26T10:38:18.123Z``."""
    when = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def uri_for(path: str) -> tuple[str, bool]:
    """(URI, relative?) for a location path: relative paths are percent-encoded references
    (from the name's bytes: an undecodable byte ``\\xff`` is ``%FF``)."""
    if "://" in path:
        return path, False
    if path.startswith("/"):
        return "file://" + percent_path(path, _SAFE_URI), False
    return percent_path(path, _SAFE_URI), True


def _artifact_location(path: str) -> dict[str, Any]:
    uri, relative = uri_for(path)
    return {"uri": uri, "uriBaseId": BASE_ID} if relative else {"uri": uri}


def _location(loc: Location) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": _artifact_location(loc.path)}
    out: dict[str, Any] = {"physicalLocation": physical}
    props: dict[str, Any] = {}
    if loc.member:
        out["logicalLocations"] = [{"name": loc.member, "kind": "member",
                                    "fullyQualifiedName": f"{loc.path}!{loc.member}"}]
        props["member"] = loc.member
        for key in ("line", "column", "offset"):
            value = getattr(loc, key)
            if value is not None:
                props[key] = value
    elif loc.line is not None and loc.line >= 1:
        region: dict[str, Any] = {"startLine": loc.line}
        if loc.column is not None and loc.column >= 1:
            region["startColumn"] = loc.column
        if loc.end_line is not None and loc.end_line >= loc.line:
            region["endLine"] = loc.end_line
        physical["region"] = region
    elif loc.offset is not None and loc.offset >= 0:
        physical["region"] = {"byteOffset": loc.offset}
        props["offset"] = loc.offset
    if loc.commit:
        props["commit"] = loc.commit
    if props:
        out["properties"] = props
    return out


def _rules(findings: list[Finding]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    order: dict[str, int] = {}
    worst: dict[str, Finding] = {}
    tags: dict[str, list[str]] = {}
    for f in findings:
        if f.rule_id not in order:
            order[f.rule_id] = len(order)
            worst[f.rule_id] = f
            tags[f.rule_id] = ["security"]
        if f.severity.rank > worst[f.rule_id].severity.rank:
            worst[f.rule_id] = f
        tags[f.rule_id].extend(t for t in f.tags if t not in tags[f.rule_id])
    rules = []
    for rule_id in order:
        f = worst[rule_id]
        rule: dict[str, Any] = {
            "id": rule_id,
            "shortDescription": {"text": f.title or rule_id},
            "fullDescription": {"text": f.title or rule_id},
            "defaultConfiguration": {"level": LEVEL[f.severity]},
            "properties": {
                "tags": tags[rule_id],
                "security-severity": SECURITY_SEVERITY[f.severity],
                "precision": f.confidence.value,
            },
        }
        if f.remediation:
            rule["help"] = {"text": f.remediation}
        rules.append(rule)
    return rules, order


def _result(f: Finding, rule_index: int, accepted: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"severity": f.severity.value, "confidence": f.confidence.value,
                             "scanner": f.scanner}
    if f.evidence:
        props["evidence"] = f.evidence
    if f.tags:
        props["tags"] = list(dict.fromkeys(f.tags))
    if f.remediation:
        props["remediation"] = f.remediation
    if f.properties:
        props["details"] = dict(f.properties)
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": LEVEL[f.severity],
        "message": {"text": f.message or f.title or f.rule_id},
        "locations": [_location(f.location)],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
        "properties": props,
    }
    if accepted is not None:
        # accepted by the project's policy (a suppression with its reason, or the baseline)
        result["suppressions"] = [{"kind": "external", "status": "accepted",
                                   "justification": accepted}]
    return result


def _invocation(step: StepRecord) -> dict[str, Any]:
    notes: list[dict[str, Any]] = []
    for skip in step.skipped:
        notes.append({
            "level": "warning",
            "message": {"text": f"not fully analysed: {skip.path}: {skip.reason}"},
            "locations": [{"physicalLocation": {"artifactLocation": _artifact_location(
                skip.path or ".")}}],
        })
    if step.status is StepStatus.ERROR:
        notes.append({"level": "error",
                      "message": {"text": step.message or "the step could not complete"}})
    inv: dict[str, Any] = {
        "executionSuccessful": step.status is not StepStatus.ERROR,
        "startTimeUtc": utc(step.started),
        "endTimeUtc": utc(step.started + max(step.duration, 0.0)),
        "properties": {"step": step.step_id, "kind": step.kind, "stage": step.stage,
                       "status": step.status.value, "message": step.message,
                       "metrics": {k: (v if math.isfinite(v) else None)
                                   for k, v in step.metrics.items()}},
    }
    if notes:
        inv["toolExecutionNotifications"] = notes
    return inv


def _scanner_of(step: StepRecord) -> str:
    names = sorted({f.scanner for f in step.findings})
    return names[0] if names else step.kind


def _driver(name: str, steps: Iterable[StepRecord]) -> dict[str, Any]:
    driver: dict[str, Any] = {"name": name, "informationUri": INFORMATION_URI}
    tool = next((s.tool for s in steps if s.tool), "")
    if tool:
        driver["fullName"] = tool
        last = tool.rsplit(" ", 1)[-1].lstrip("v")
        if last[:1].isdigit():
            driver["version"] = last
    return driver


def _sarif_run(run: RunRecord, name: str, steps: list[StepRecord],
               findings: list[Finding]) -> dict[str, Any]:
    rules, index = _rules(findings)
    accepted = run.accepted
    driver = _driver(name, steps)
    driver["rules"] = rules
    out: dict[str, Any] = {
        "tool": {"driver": driver},
        "automationDetails": {"id": f"secpipe/{run.pipeline}/{name}/{run.run_id}"},
        "invocations": [_invocation(s) for s in steps],
        "results": [_result(f, index[f.rule_id], accepted.get(f.fingerprint))
                    for f in findings],
        "columnKind": "unicodeCodePoints",
        "properties": {"secpipe": {"scanner": name, "steps": [s.step_id for s in steps]}},
    }
    if run.project.startswith("/"):
        out["originalUriBaseIds"] = {BASE_ID: {"uri": uri_for(run.project.rstrip("/") + "/")[0]}}
    artifacts = {a.path: a for s in steps for a in s.artifacts}
    if artifacts:
        out["artifacts"] = [{
            "location": _artifact_location(_relative(a.path, run.project)),
            "length": a.size, "mimeType": a.media_type if "/" in a.media_type else
            "application/octet-stream",
            "hashes": {"sha-256": a.digest.removeprefix("sha256:")},
            "roles": ["resultFile"],
        } for a in artifacts.values()]
    return out


def _relative(path: str, project: str) -> str:
    try:
        return Path(path).relative_to(project).as_posix()
    except ValueError:
        return path


def run_to_sarif(run: RunRecord) -> dict[str, Any]:
    """The SARIF log as a dict."""
    groups: dict[str, tuple[list[StepRecord], list[Finding]]] = {}
    for step in run.steps:
        if step.gate is not None or step.status is StepStatus.SKIPPED:
            continue
        groups.setdefault(_scanner_of(step), ([], []))[0].append(step)
    for finding in run.findings:
        groups.setdefault(finding.scanner, ([], []))[1].append(finding)
    if not groups:
        groups["secpipe"] = ([], [])
    runs = [_sarif_run(run, name, steps, findings)
            for name, (steps, findings) in groups.items()]
    gates = [{"step": s.step_id, **s.gate.to_dict()} for s in run.gates if s.gate]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": runs,
        "properties": {"secpipe": {
            "run": run.run_id, "pipeline": run.pipeline, "status": run.status,
            "exit_code": run.exit_code, "version": run.secpipe_version, "gates": gates,
        }},
    }


def render(run: RunRecord) -> str:
    """The SARIF log; outside URIs, an undecodable byte of a name is shown as ``\\xNN``, and
    control and bidi characters are JSON escapes."""
    log = readable_tree(run_to_sarif(run))
    return json_text(json.dumps(log, indent=2, ensure_ascii=False, allow_nan=False)) + "\n"
