"""Control ids of a rule: the CIS and NIST SP 800-53 references the guide gives each rule,
turned into finding tags (``CIS-Controls:5``, ``NIST-800-53:AC-6(2)``) and the XCCDF severity
into secpipe's."""

from __future__ import annotations

from collections.abc import Iterable

from secpipe.core.findings import Severity

MAX_TAGS = 40
SEVERITY = {"high": Severity.HIGH, "medium": Severity.MEDIUM, "low": Severity.LOW,
            "info": Severity.INFO, "unknown": Severity.MEDIUM}
"""XCCDF severity -> secpipe severity; ``unknown`` counts as medium (not lower)."""


def _scheme(href: str) -> str | None:
    low = href.lower()
    if "800-53" in low:
        return "NIST-800-53"
    if "cisecurity.org/controls" in low:
        return "CIS-Controls"
    if "cisecurity.org" in low or "/cis_" in low:
        return "CIS"
    return None


def control_tags(references: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """Tags for the CIS and NIST 800-53 references among ``(href, text)``, sorted, unique."""
    tags: set[str] = set()
    for href, text in references:
        scheme = _scheme(href)
        if scheme is None:
            continue
        for item in text.replace(";", ",").split(","):
            item = item.strip()
            if item and len(item) <= 40 and "\n" not in item:
                tags.add(f"{scheme}:{item}")
    return tuple(sorted(tags))[:MAX_TAGS]


def severity_of(xccdf: str) -> Severity:
    """The secpipe severity of an XCCDF severity."""
    return SEVERITY.get(xccdf.strip().lower(), Severity.MEDIUM)
