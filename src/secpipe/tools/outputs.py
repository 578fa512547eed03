"""A tool's findings output, read by format into one result type, and the redacted copy kept.

``sarif`` goes through :mod:`secpipe.tools.parsers.sarif`, ``json`` through the generic findings
shape of :mod:`secpipe.tools.parsers.json`. Whatever the format, a step gets a
:class:`ParsedOutput` and never the raw document; the copy it keeps as an artifact has secret
values and long random tokens masked (:func:`write_kept_copy`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from secpipe.core.findings import Finding, Severity
from secpipe.core.results import Skipped
from secpipe.tools.parsers.json import MAX_JSON_BYTES, ingest_json, read_json
from secpipe.tools.parsers.sarif import MAX_SARIF_BYTES, ingest_sarif, read_sarif
from secpipe.tools.redact import redact_log

Format = Literal["sarif", "json"]
MEDIA_TYPES: dict[str, str] = {"sarif": "application/sarif+json", "json": "application/json"}
"""The media type of the kept copy, per format."""
DEFAULT_MAX_BYTES: dict[str, int] = {"sarif": MAX_SARIF_BYTES, "json": MAX_JSON_BYTES}
"""Default size bound per format."""
_MAX_WALK = 200


@dataclass(frozen=True)
class ParsedOutput:
    """The findings a tool's output held, whatever its format."""

    findings: tuple[Finding, ...]
    """Its findings (tool-suppressed ones marked)."""
    tools: tuple[str, ...]
    """``name version`` of the tool(s) named by the output."""
    skipped: tuple[Skipped, ...]
    """Inputs the tool said it could not analyse."""
    failures: tuple[str, ...]
    """The tool's own reports of an unsuccessful run (SARIF ``executionSuccessful: false``)."""
    suppressed: int
    """Findings the tool suppressed itself."""
    data: Any
    """The parsed document (for :func:`write_kept_copy` only)."""


def parse_output(fmt: Format, path: Path, *, max_bytes: int, scanner: str, project_root: Path,
                 base_dir: Path, default_severity: Severity | None) -> ParsedOutput:
    """Read and parse ``path`` as ``fmt``; :class:`InputError` when it cannot be read."""
    if fmt == "sarif":
        data = read_sarif(path, max_bytes)
        got = ingest_sarif(data, project_root=project_root, base_dir=base_dir, scanner=scanner,
                           default_severity=default_severity, source=str(path))
        return ParsedOutput(got.findings, got.tools, got.skipped, got.failures, got.suppressed,
                            data)
    data = read_json(path, max_bytes)
    parsed = ingest_json(data, scanner=scanner, project_root=project_root, base_dir=base_dir,
                         default_severity=default_severity, source=f"JSON output {path}")
    return ParsedOutput(parsed.findings, (parsed.tool,) if parsed.tool else (), (), (),
                        parsed.suppressed, data)


def _walk(node: Any, redact: Callable[[str], str], depth: int = 0) -> Any:
    if depth > _MAX_WALK:
        return None
    if isinstance(node, str):
        return redact(node)
    if isinstance(node, list):
        return [_walk(v, redact, depth + 1) for v in node]
    if isinstance(node, dict):
        return {k: _walk(v, redact, depth + 1) for k, v in node.items()}
    return node


def _walk_sarif(node: Any, values: Callable[[str], str], everything: Callable[[str], str],
                depth: int = 0) -> Any:
    """``values`` on every string; ``everything`` (long random tokens too) inside ``properties``
    bags, where tools put whatever they like, the matched secret included."""
    if depth > _MAX_WALK:
        return None
    if isinstance(node, list):
        return [_walk_sarif(v, values, everything, depth + 1) for v in node]
    if isinstance(node, dict):
        return {k: _walk(v, everything, depth + 1) if k == "properties"
                else _walk_sarif(v, values, everything, depth + 1) for k, v in node.items()}
    return _walk(node, values, depth)


def write_kept_copy(fmt: Format, data: Any, target: Path, *, values: Callable[[str], str],
                    everything: Callable[[str], str]) -> None:
    """Write the copy of the output secpipe keeps: SARIF with snippets masked and long tokens in
    its texts (:func:`~secpipe.tools.redact.redact_log`) and ``values`` (the run's secret
    values) applied to every string; other formats with ``everything`` applied to every string."""
    kept = _walk_sarif(redact_log(data), values, everything) if fmt == "sarif" \
        else _walk(data, everything)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(kept, indent=1), encoding="utf-8")
    os.replace(tmp, target)
