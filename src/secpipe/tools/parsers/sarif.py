"""Read a SARIF 2.1.0 log written by another tool into secpipe :class:`Finding` objects.

The log is untrusted input: its size is bounded before it is parsed, every field is optional, every
string is bounded and stripped of control characters, rule ids are only ever used as data, and text
that may quote a secret (``region.snippet``, messages) is redacted before it is kept.

Severity comes, in order, from the result's ``properties.security-severity`` (the CVSS-like number
GitHub code scanning reads) or ``properties.severity``, then the rule's, then the rule's severity
tags (Trivy tags ``CRITICAL``), then ``level`` (result, else the rule's default configuration):
``error`` → high, ``warning`` → medium, ``note`` → low, ``none`` → info.

The finding's fingerprint keeps the tool's identity of the result: a ``secpipe/v1`` partial
fingerprint (secpipe's own SARIF) is taken as is; otherwise the tool's ``fingerprints`` or
``partialFingerprints`` (else a hash of the snippet) become the occurrence key.

A result the tool itself suppressed (SARIF ``suppressions`` with status ``accepted``: a
``nosemgrep`` comment, a baseline of the tool's own) is kept, marked by
:func:`~secpipe.tools.suppressions.mark_tool_suppressed`: it has no reason and no expiry in
secpipe's sense, so the gate counts it unless the policy accepts tool suppressions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from secpipe.core.errors import InputError
from secpipe.core.findings import Confidence, Finding, Location, Severity
from secpipe.core.results import Skipped
from secpipe.tools.parsers.common import read_bounded
from secpipe.tools.parsers.sarif_fields import (
    Paths,
    as_dict,
    as_list,
    key_of,
    location_of,
    message_of,
    rule_id_of,
    severity_of,
    suppression_of,
    tags_of,
)
from secpipe.tools.redact import clean, mask, redact_tokens
from secpipe.tools.suppressions import mark_tool_suppressed

MAX_SARIF_BYTES = 64 << 20
"""Default bound on the size of a SARIF file."""
MAX_RESULTS = 50_000
"""Results read per log; more are reported as a truncation finding, never dropped silently."""
FINGERPRINT_KEY = "secpipe/v1"
"""The partial-fingerprint name under which secpipe writes its own fingerprint."""
MEDIA_TYPE = "application/sarif+json"
"""The media type of a SARIF log."""

_OWN_FP = re.compile(r"^[0-9a-f]{32}$")
_PRECISION = {"very-high": Confidence.HIGH, "high": Confidence.HIGH,
              "medium": Confidence.MEDIUM, "low": Confidence.LOW}


@dataclass(frozen=True)
class Ingested:
    """What a SARIF log held."""

    findings: tuple[Finding, ...]
    """Its results, as findings."""
    tools: tuple[str, ...]
    """``name version`` of each run's driver."""
    skipped: tuple[Skipped, ...] = ()
    """Inputs the tool said it could not analyse (its toolExecutionNotifications)."""
    failures: tuple[str, ...] = ()
    """Invocations the tool itself marked ``executionSuccessful: false``, with its reason."""
    suppressed: int = 0
    """Results the tool reported as suppressed itself (kept, marked: see the module doc)."""


def read_sarif(path: Path, max_bytes: int = MAX_SARIF_BYTES) -> Any:
    """Parse a SARIF file after bounding its size; :class:`InputError` names the file."""
    raw = read_bounded(path, max_bytes, "SARIF file")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"SARIF file {path} is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise InputError(f"SARIF file {path} is not a SARIF log (no 'runs' array)")
    return data


def ingest_sarif(
    data: Mapping[str, Any], *, project_root: Path, base_dir: Path | None = None,
    scanner: str | None = None, default_severity: Severity | None = None, source: str = "SARIF",
    max_results: int = MAX_RESULTS,
) -> Ingested:
    """Findings of every run of a parsed SARIF log.

    ``base_dir`` resolves relative URIs without a base id (the tool's working directory; default
    the project root). ``scanner`` names the findings' scanner; without it, secpipe's own
    ``properties.secpipe.scanner`` of the run, else the driver's name.
    """
    paths_dir = base_dir or project_root
    findings: list[Finding] = []
    tools: list[str] = []
    skipped: list[Skipped] = []
    failures: list[str] = []
    suppressed = total = 0
    for run in (as_dict(r) for r in as_list(data.get("runs"))):
        driver = as_dict(as_dict(run.get("tool")).get("driver"))
        name = clean(driver.get("name"), 100) or "unknown-tool"
        version = clean(driver.get("version") or driver.get("semanticVersion"), 50)
        tools.append(f"{name} {version}".strip())
        run_scanner = scanner or clean(as_dict(as_dict(run.get("properties")).get("secpipe"))
                                       .get("scanner"), 100) or name
        rules = [as_dict(r) for r in as_list(driver.get("rules"))]
        by_id = {r["id"]: r for r in reversed(rules) if isinstance(r.get("id"), str)}
        paths = Paths(as_dict(run.get("originalUriBaseIds")), project_root, paths_dir)
        for inv in (as_dict(i) for i in as_list(run.get("invocations"))):
            reasons: list[str] = []
            for note in as_list(inv.get("toolExecutionNotifications"))[:1000]:
                note = as_dict(note)
                text = redact_tokens(clean(as_dict(note.get("message")).get("text"), 500))
                locs = as_list(note.get("locations"))
                where = paths.path(as_dict(as_dict(as_dict(locs[0]).get("physicalLocation"))
                                         .get("artifactLocation"))) if locs else None
                skipped.append(Skipped(where or name, text or "tool notification"))
                reasons.append(text)
            if inv.get("executionSuccessful") is False:
                reason = next((r for r in reasons if r), "")
                failures.append(f"{name} reported an unsuccessful run" +
                                (f": {reason}" if reason else ""))
        for result in (as_dict(r) for r in as_list(run.get("results"))):
            if result.get("kind") in ("pass", "notApplicable"):
                continue
            tool_suppression = suppression_of(result)
            suppressed += tool_suppression is not None
            total += 1
            if total > max_results:
                continue
            rule_id = rule_id_of(result, rules)
            rule = by_id.get(rule_id, {})
            location, snippet = location_of(result, paths)
            rule_props = as_dict(rule.get("properties"))
            title = (clean(as_dict(rule.get("shortDescription")).get("text"), 300)
                     or clean(rule.get("name"), 300) or rule_id)
            precision = rule_props.get("precision")
            properties = {"tool": name}
            raw_score = rule_props.get("security-severity")
            if isinstance(raw_score, str):
                properties["security-severity"] = clean(raw_score, 20)
            finding = Finding.create(
                rule_id=rule_id,
                title=redact_tokens(title),
                severity=severity_of(result, rule, default_severity),
                scanner=run_scanner,
                location=location,
                message=message_of(result, rule) or redact_tokens(title),
                key=key_of(result, snippet),
                confidence=_PRECISION.get(precision, Confidence.HIGH)
                if isinstance(precision, str) else Confidence.HIGH,
                evidence=mask(snippet.strip()) if snippet.strip() else "",
                tags=tags_of(rule_props, as_dict(result.get("properties"))),
                remediation=redact_tokens(clean(as_dict(rule.get("help")).get("text"))),
                properties=properties,
            )
            own = as_dict(result.get("partialFingerprints")).get(FINGERPRINT_KEY)
            if isinstance(own, str) and _OWN_FP.match(own):
                finding = replace(finding, fingerprint=own)
            if tool_suppression is not None:
                finding = mark_tool_suppressed(finding, *tool_suppression)
            findings.append(finding)
    if total > max_results:
        findings.append(Finding.create(
            rule_id="sarif.truncated", title="SARIF log only partly read",
            severity=Severity.MEDIUM, scanner=scanner or "sarif",
            location=Location(path=source), key="truncated",
            message=f"only the first {max_results} of {total} results were read",
            remediation="narrow the scan or raise the limit",
        ))
        skipped.append(Skipped(source, f"{total - max_results} results past the limit of "
                                       f"{max_results} were not read"))
    return Ingested(tuple(findings), tuple(tools), tuple(skipped), tuple(failures), suppressed)


def load_sarif(path: Path, *, project_root: Path, max_bytes: int = MAX_SARIF_BYTES,
               **options: Any) -> Ingested:
    """:func:`read_sarif` then :func:`ingest_sarif`."""
    return ingest_sarif(read_sarif(path, max_bytes), project_root=project_root, source=str(path),
                        **options)
