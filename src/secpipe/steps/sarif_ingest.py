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
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from secpipe.core.errors import InputError
from secpipe.core.findings import Confidence, Finding, Location, Severity
from secpipe.core.results import Skipped
from secpipe.steps.redact import clean, mask, redact_tokens

MAX_SARIF_BYTES = 64 << 20
"""Default bound on the size of a SARIF file."""
MAX_RESULTS = 50_000
"""Results read per log; more are reported as a truncation finding, never dropped silently."""
FINGERPRINT_KEY = "secpipe/v1"
"""The partial-fingerprint name under which secpipe writes its own fingerprint."""

_ID_MAX = 200
_OWN_FP = re.compile(r"^[0-9a-f]{32}$")
_LEVELS = {"error": Severity.HIGH, "warning": Severity.MEDIUM, "note": Severity.LOW,
           "none": Severity.INFO}
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
    """Results the tool reported as suppressed in its own configuration (not kept)."""


def read_sarif(path: Path, max_bytes: int = MAX_SARIF_BYTES) -> Any:
    """Parse a SARIF file after bounding its size; :class:`InputError` names the file."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"SARIF file {path} is missing or unreadable: {exc.strerror}") from None
    if size > max_bytes:
        raise InputError(f"SARIF file {path} is {size} bytes (limit {max_bytes})")
    try:
        with path.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
        if len(raw) > max_bytes:  # it grew since stat()
            raise InputError(f"SARIF file {path} is over {max_bytes} bytes")
        data = json.loads(raw)
    except (OSError, ValueError, RecursionError) as exc:
        raise InputError(f"SARIF file {path} is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise InputError(f"SARIF file {path} is not a SARIF log (no 'runs' array)")
    return data


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _severity_value(props: Mapping[str, Any]) -> Severity | None:
    raw = props.get("security-severity")
    if isinstance(raw, (str, int, float)) and not isinstance(raw, bool):
        try:
            score = float(raw)
        except ValueError:
            score = math.nan
        if math.isfinite(score):
            if score >= 9.0:
                return Severity.CRITICAL
            if score >= 7.0:
                return Severity.HIGH
            if score >= 4.0:
                return Severity.MEDIUM
            return Severity.LOW if score >= 0.1 else Severity.INFO
    named = props.get("severity")
    if isinstance(named, str):
        try:
            return Severity.parse(named)
        except ValueError:
            return None
    return None


def _severity_tags(props: Mapping[str, Any]) -> Severity | None:
    for tag in _list(props.get("tags")):
        if isinstance(tag, str):
            try:
                return Severity.parse(tag)
            except ValueError:
                continue
    return None


def _severity(result: dict[str, Any], rule: dict[str, Any], default: Severity | None) -> Severity:
    rule_props = _dict(rule.get("properties"))
    found = (_severity_value(_dict(result.get("properties"))) or _severity_value(rule_props)
             or _severity_tags(rule_props))
    if found is not None:
        return found
    level = result.get("level")
    if not isinstance(level, str):
        level = _dict(rule.get("defaultConfiguration")).get("level")
    if isinstance(level, str) and level in _LEVELS:
        return _LEVELS[level]
    return default if default is not None else Severity.MEDIUM  # SARIF's default is "warning"


class _Paths:
    """Turns artifact locations into project-relative POSIX paths."""

    def __init__(self, base_ids: dict[str, Any], project_root: Path, base_dir: Path) -> None:
        self.base_ids = base_ids
        self.root = os.path.normpath(os.path.abspath(project_root))
        self.base_dir = os.path.normpath(os.path.abspath(base_dir))

    def _base(self, name: object, depth: int = 0) -> str | None:
        entry = _dict(self.base_ids.get(name)) if isinstance(name, str) else {}
        uri = entry.get("uri")
        if not isinstance(uri, str) or depth > 4:
            return None
        parent = self._base(entry.get("uriBaseId"), depth + 1)
        return urljoin(parent, uri) if parent else uri

    def path(self, loc: dict[str, Any]) -> str | None:
        uri = loc.get("uri")
        if not isinstance(uri, str) or not uri:
            return None
        base = self._base(loc.get("uriBaseId"))
        if base:
            uri = urljoin(base if base.endswith("/") else base + "/", uri)
        parts = urlsplit(uri)
        if parts.scheme == "file":
            local = unquote(parts.path)
        elif len(parts.scheme) > 1:
            return clean(uri, 1000)  # a remote artifact: keep the URI
        else:
            local = unquote(uri)
            if not os.path.isabs(local):
                local = os.path.join(self.base_dir, local)
        local = os.path.normpath(local)
        if local == self.root:
            return "."
        if local.startswith(self.root + os.sep):
            local = os.path.relpath(local, self.root)
        return clean(local.replace(os.sep, "/"), 1000)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _location(result: dict[str, Any], paths: _Paths) -> tuple[Location, str]:
    """The result's first location, and its snippet text ('' when none)."""
    loc = _dict(_list(result.get("locations"))[0]) if _list(result.get("locations")) else {}
    phys = _dict(loc.get("physicalLocation"))
    region = _dict(phys.get("region"))
    extra = _dict(loc.get("properties"))
    path = paths.path(_dict(phys.get("artifactLocation")))
    member: str | None = clean(extra.get("member"), 1000) or None
    for logical in _list(loc.get("logicalLocations")):
        logical = _dict(logical)
        if path is None:
            path = clean(logical.get("fullyQualifiedName") or logical.get("name"), 1000) or None
        elif member is None and logical.get("kind") == "member":
            member = clean(logical.get("name"), 1000) or None
    if path is None:
        path = paths.path(_dict(result.get("analysisTarget"))) or "(no location)"
    line = _int(extra.get("line")) or _int(region.get("startLine"))
    location = Location(
        path=path,
        line=line,
        column=_int(extra.get("column")) or _int(region.get("startColumn")),
        end_line=_int(region.get("endLine")) if member is None else None,
        member=member,
        offset=_int(extra.get("offset")) if extra.get("offset") is not None
        else _int(region.get("byteOffset")),
        commit=clean(extra.get("commit"), 64) or None,
    )
    snippet = _dict(region.get("snippet")).get("text")
    return location, snippet if isinstance(snippet, str) else ""


def _key(result: dict[str, Any], snippet: str) -> str | None:
    for name in ("fingerprints", "partialFingerprints"):
        pairs = sorted((clean(k, 100), clean(v, 500)) for k, v in _dict(result.get(name)).items()
                       if isinstance(v, str) and v.strip())
        if pairs:
            return "|".join(f"{k}={v}" for k, v in pairs)
    if snippet.strip():
        return "snippet:" + hashlib.sha256(snippet.strip().encode("utf-8", "replace")).hexdigest()
    return None


def _message(result: dict[str, Any], rule: dict[str, Any]) -> str:
    msg = _dict(result.get("message"))
    text = msg.get("text")
    if not isinstance(text, str) and isinstance(msg.get("id"), str):
        text = _dict(_dict(rule.get("messageStrings")).get(msg["id"])).get("text")
    if not isinstance(text, str):
        return ""
    for i, arg in enumerate(_list(msg.get("arguments"))[:20]):
        text = text.replace("{" + str(i) + "}", clean(arg, 200))
    lines = (line.strip() for line in clean(text).splitlines())
    return redact_tokens("; ".join(line for line in lines if line))  # one line, as ours are


def _rule_id(result: dict[str, Any], rules: list[dict[str, Any]]) -> str:
    rule_id = result.get("ruleId") or _dict(result.get("rule")).get("id")
    if not isinstance(rule_id, str):
        index = _int(result.get("ruleIndex"))
        if index is not None and index < len(rules):
            rule_id = rules[index].get("id")
    text = clean(rule_id, _ID_MAX)
    return re.sub(r"\s+", "-", text) or "sarif.unknown-rule"


def _tags(*bags: dict[str, Any]) -> list[str]:
    tags: list[str] = []
    for bag in bags:
        for tag in _list(bag.get("tags")):
            text = clean(tag, 100)
            if text and text not in tags and len(tags) < 50:
                tags.append(text)
    return tags


def _suppressed(result: dict[str, Any]) -> bool:
    return any(_dict(s).get("status", "accepted") == "accepted"
               for s in _list(result.get("suppressions")))


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
    for run in (_dict(r) for r in _list(data.get("runs"))):
        driver = _dict(_dict(run.get("tool")).get("driver"))
        name = clean(driver.get("name"), 100) or "unknown-tool"
        version = clean(driver.get("version") or driver.get("semanticVersion"), 50)
        tools.append(f"{name} {version}".strip())
        run_scanner = scanner or clean(_dict(_dict(run.get("properties")).get("secpipe"))
                                       .get("scanner"), 100) or name
        rules = [_dict(r) for r in _list(driver.get("rules"))]
        by_id = {r["id"]: r for r in reversed(rules) if isinstance(r.get("id"), str)}
        paths = _Paths(_dict(run.get("originalUriBaseIds")), project_root, paths_dir)
        for inv in (_dict(i) for i in _list(run.get("invocations"))):
            reasons: list[str] = []
            for note in _list(inv.get("toolExecutionNotifications"))[:1000]:
                note = _dict(note)
                text = redact_tokens(clean(_dict(note.get("message")).get("text"), 500))
                locs = _list(note.get("locations"))
                where = paths.path(_dict(_dict(_dict(locs[0]).get("physicalLocation"))
                                         .get("artifactLocation"))) if locs else None
                skipped.append(Skipped(where or name, text or "tool notification"))
                reasons.append(text)
            if inv.get("executionSuccessful") is False:
                reason = next((r for r in reasons if r), "")
                failures.append(f"{name} reported an unsuccessful run" +
                                (f": {reason}" if reason else ""))
        for result in (_dict(r) for r in _list(run.get("results"))):
            if result.get("kind") in ("pass", "notApplicable"):
                continue
            if _suppressed(result):
                suppressed += 1
                continue
            total += 1
            if total > max_results:
                continue
            rule_id = _rule_id(result, rules)
            rule = by_id.get(rule_id, {})
            location, snippet = _location(result, paths)
            rule_props = _dict(rule.get("properties"))
            title = (clean(_dict(rule.get("shortDescription")).get("text"), 300)
                     or clean(rule.get("name"), 300) or rule_id)
            precision = rule_props.get("precision")
            properties = {"tool": name}
            raw_score = rule_props.get("security-severity")
            if isinstance(raw_score, str):
                properties["security-severity"] = clean(raw_score, 20)
            finding = Finding.create(
                rule_id=rule_id,
                title=redact_tokens(title),
                severity=_severity(result, rule, default_severity),
                scanner=run_scanner,
                location=location,
                message=_message(result, rule) or redact_tokens(title),
                key=_key(result, snippet),
                confidence=_PRECISION.get(precision, Confidence.HIGH)
                if isinstance(precision, str) else Confidence.HIGH,
                evidence=mask(snippet.strip()) if snippet.strip() else "",
                tags=_tags(rule_props, _dict(result.get("properties"))),
                remediation=redact_tokens(clean(_dict(rule.get("help")).get("text"))),
                properties=properties,
            )
            own = _dict(result.get("partialFingerprints")).get(FINGERPRINT_KEY)
            if isinstance(own, str) and _OWN_FP.match(own):
                finding = replace(finding, fingerprint=own)
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
