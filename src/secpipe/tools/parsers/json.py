"""JSON tool output: bounded reading, and secpipe's generic findings shape.

A tool (or a small wrapper script around one) that does not write SARIF can write this shape::

    {"tool": {"name": "acme-scan", "version": "1.2"},          # optional
     "findings": [
       {"rule_id": "acme.weak-hash",                          # required, a string
        "message": "MD5 used for passwords",                  # required unless title is given
        "title": "Weak hash",                                 # optional
        "severity": "high",     # critical|high|medium|low|info, or SARIF's error|warning|note|none
        "path": "src/auth.py", "line": 12, "column": 5, "end_line": 12,    # optional
        "fingerprint": "…",     # the tool's identity of this occurrence (survives line moves)
        "tags": ["CWE-328"], "remediation": "use argon2",
        "suppressed": false}    # true, or {"reason": "…"}: the tool suppressed it itself
     ]}

or just the list of findings. Unknown keys are ignored; a known key with a wrong type, a missing
rule id, or any other shape is an :class:`InputError` naming the position — never "no findings".
Paths are relative to the tool's working folder. Strings are bounded, one-line, redacted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from secpipe.core.errors import InputError
from secpipe.core.findings import Finding, Location, Severity
from secpipe.tools.parsers.common import project_path, read_bounded
from secpipe.tools.redact import clean, redact_tokens
from secpipe.tools.suppressions import mark_tool_suppressed, unmarked_tags

MAX_JSON_BYTES = 64 << 20
"""Default bound on the size of a JSON output."""
MAX_FINDINGS = 50_000
"""Findings read from one output; more is an error (the tool should be narrowed)."""
_LEVELS = {"error": Severity.HIGH, "warning": Severity.MEDIUM, "note": Severity.LOW,
           "none": Severity.INFO}


@dataclass(frozen=True)
class JsonFindings:
    """What a JSON output in the generic shape held."""

    findings: tuple[Finding, ...]
    """Its findings."""
    tool: str
    """``name version`` from its ``tool`` object, '' when absent."""
    suppressed: int
    """Findings the tool marked as suppressed itself (kept, marked)."""


def read_json(path: Path, max_bytes: int = MAX_JSON_BYTES, what: str = "JSON output") -> Any:
    """Parse a JSON file after bounding its size; :class:`InputError` names the file."""
    raw = read_bounded(path, max_bytes, what)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{what} {path} is not valid JSON: {str(exc)[:200]}") from None


def _text(item: Mapping[str, Any], key: str, where: str, limit: int = 2000, *,
          raw: bool = False) -> str:
    """A string field: bounded, control characters removed; unless ``raw`` (paths, ids), also
    on one line with long random tokens masked."""
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{where}.{key} must be a string")
    return clean(value, limit) if raw else redact_tokens(" ".join(clean(value, limit).split()))


def _int(item: Mapping[str, Any], key: str, where: str) -> int | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InputError(f"{where}.{key} must be a positive integer")
    return value


def _severity(item: Mapping[str, Any], where: str, default: Severity | None) -> Severity:
    value = item.get("severity")
    if value is None:
        return default or Severity.MEDIUM
    if isinstance(value, str):
        if value.strip().lower() in _LEVELS:
            return _LEVELS[value.strip().lower()]
        try:
            return Severity.parse(value)
        except ValueError:
            pass
    raise InputError(f"{where}.severity: {clean(str(value), 40)!r} is not a severity "
                     "(critical, high, medium, low, info)")


def _suppression(item: Mapping[str, Any], where: str) -> str | None:
    """None when not suppressed, else the tool's reason ('' when it gave none)."""
    value = item.get("suppressed")
    if value is None or value is False:
        return None
    if value is True:
        return ""
    if isinstance(value, dict):
        return _text(value, "reason", f"{where}.suppressed", 300)
    raise InputError(f"{where}.suppressed must be true, false or {{\"reason\": …}}")


def _finding(item: object, where: str, *, scanner: str, root: Path, base: Path,
             default: Severity | None) -> tuple[Finding, bool]:
    if not isinstance(item, dict):
        raise InputError(f"{where} is not an object")
    rule_id = "-".join(_text(item, "rule_id", where, 200, raw=True).split())
    if not rule_id:
        raise InputError(f"{where} has no rule_id")
    title = _text(item, "title", where, 300)
    message = _text(item, "message", where) or title
    if not message:
        raise InputError(f"{where} has neither message nor title")
    raw_path = _text(item, "path", where, 1000, raw=True)
    tags = item.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise InputError(f"{where}.tags must be a list of strings")
    fingerprint = _text(item, "fingerprint", where, 500, raw=True)
    finding = Finding.create(
        rule_id=rule_id, title=title or rule_id, severity=_severity(item, where, default),
        scanner=scanner,
        location=Location(path=project_path(raw_path, root, base) if raw_path
                          else "(no location)",
                          line=_int(item, "line", where), column=_int(item, "column", where),
                          end_line=_int(item, "end_line", where)),
        message=message, key=f"tool:{fingerprint}" if fingerprint else None,
        tags=unmarked_tags([clean(t, 100) for t in tags[:50] if clean(t, 100)]),
        remediation=_text(item, "remediation", where),
    )
    reason = _suppression(item, where)
    if reason is not None:
        return mark_tool_suppressed(finding, "tool", reason), True
    return finding, False


def ingest_json(data: Any, *, scanner: str, project_root: Path, base_dir: Path | None = None,
                default_severity: Severity | None = None, source: str = "JSON output",
                max_findings: int = MAX_FINDINGS) -> JsonFindings:
    """Findings of a parsed JSON output in the generic shape (see the module doc)."""
    tool = ""
    if isinstance(data, dict):
        if not isinstance(data.get("findings"), list):
            raise InputError(f"{source} is not in the findings shape (an object needs a "
                             "'findings' list)")
        meta = data.get("tool")
        if isinstance(meta, dict):
            tool = " ".join(p for p in (_text(meta, "name", "tool", 100),
                                        _text(meta, "version", "tool", 50)) if p)
        items: list[Any] = data["findings"]
    elif isinstance(data, list):
        items = data
    else:
        raise InputError(f"{source} is not in the findings shape (a list or an object with "
                         "'findings')")
    if len(items) > max_findings:
        raise InputError(f"{source} holds {len(items)} findings (limit {max_findings})")
    findings: list[Finding] = []
    suppressed = 0
    for i, item in enumerate(items):
        finding, was = _finding(item, f"{source}: findings[{i}]", scanner=scanner,
                                root=project_root, base=base_dir or project_root,
                                default=default_severity)
        findings.append(finding)
        suppressed += was
    return JsonFindings(tuple(findings), tool, suppressed)
