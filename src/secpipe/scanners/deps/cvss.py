"""Severity of an OSV record: the CVSS v3 base score computed from its vector, else the database's
own rating, else medium.

The CVSS v3.1 base score is the formula of the FIRST specification (section 7.1), computed here
from the vector's eight base metrics, with its ``Roundup`` (the smallest number with one decimal
at or above the input, computed on integers so that 4.000001 stays 4.0). A v3.0 vector is scored
with the same formula (the two differ only in rounding edge cases). A CVSS v4 vector is recognised
but not scored (its score comes from a lookup table of macro-vectors, not a formula): such a
record takes the database's rating when it has one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from secpipe.core.findings import Severity

_AV = {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}
_AC = {"L": 0.77, "H": 0.44}
_PR_U = {"N": 0.85, "L": 0.62, "H": 0.27}
_PR_C = {"N": 0.85, "L": 0.68, "H": 0.5}
_UI = {"N": 0.85, "R": 0.62}
_CIA = {"H": 0.56, "L": 0.22, "N": 0.0}
_BASE = ("AV", "AC", "PR", "UI", "S", "C", "I", "A")

DB_RATINGS = {"CRITICAL": Severity.CRITICAL, "HIGH": Severity.HIGH, "MODERATE": Severity.MEDIUM,
              "MEDIUM": Severity.MEDIUM, "LOW": Severity.LOW}
"""``database_specific.severity`` words (GitHub's ``MODERATE`` is medium)."""


def roundup(value: float) -> float:
    """CVSS v3.1 ``Roundup``."""
    scaled = round(value * 100_000)
    if scaled % 10_000 == 0:
        return scaled / 100_000.0
    return (math.floor(scaled / 10_000) + 1) / 10.0


def v3_base_score(vector: str) -> float | None:
    """The base score of a ``CVSS:3.x/AV:…`` vector; ``None`` when it is not a complete, valid
    v3 vector."""
    parts = vector.strip().split("/")
    if not parts or parts[0] not in ("CVSS:3.0", "CVSS:3.1"):
        return None
    metrics: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, value = part.partition(":")
        if not sep or key in metrics:
            return None
        metrics[key] = value
    if any(k not in metrics for k in _BASE):
        return None
    try:
        scope_changed = {"U": False, "C": True}[metrics["S"]]
        av, ac, ui = _AV[metrics["AV"]], _AC[metrics["AC"]], _UI[metrics["UI"]]
        pr = (_PR_C if scope_changed else _PR_U)[metrics["PR"]]
        c, i, a = _CIA[metrics["C"]], _CIA[metrics["I"]], _CIA[metrics["A"]]
    except KeyError:
        return None
    iss = 1 - (1 - c) * (1 - i) * (1 - a)
    impact = (7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15) if scope_changed \
        else 6.42 * iss
    exploitability = 8.22 * av * ac * pr * ui
    if impact <= 0:
        return 0.0
    if scope_changed:
        return roundup(min(1.08 * (impact + exploitability), 10.0))
    return roundup(min(impact + exploitability, 10.0))


def rating(score: float) -> Severity:
    """The CVSS qualitative rating of a score (0.0 is ``info``)."""
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    if score > 0.0:
        return Severity.LOW
    return Severity.INFO


def record_severity(severity: Sequence[Mapping[str, Any]],
                    database_rating: str | None) -> tuple[Severity, str]:
    """The severity of one record and how it was decided (``CVSS 9.8``, ``database: HIGH``,
    ``default``)."""
    best: float | None = None
    for entry in severity:
        if entry.get("type") in ("CVSS_V3", "CVSS_V31") and isinstance(entry.get("score"), str):
            score = v3_base_score(entry["score"])
            if score is not None and (best is None or score > best):
                best = score
    if best is not None:
        return rating(best), f"CVSS {best:.1f}"
    if database_rating and database_rating.strip().upper() in DB_RATINGS:
        word = database_rating.strip().upper()
        return DB_RATINGS[word], f"database: {word}"
    return Severity.MEDIUM, "default (no CVSS v3 vector or rating)"
