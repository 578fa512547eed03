"""CVSS v3.1 base scores computed from vectors (values published by FIRST and NVD), and the
severity fallbacks."""

from __future__ import annotations

import pytest

from secpipe.core.findings import Severity
from secpipe.scanners.deps.cvss import record_severity, roundup, v3_base_score


@pytest.mark.parametrize(("vector", "score"), [
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
    ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
    ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),
    ("CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N", 5.4),
    ("CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 7.2),
    ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N", 5.3),
    ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N", 0.0),
])
def test_v3_base_scores(vector: str, score: float) -> None:
    assert v3_base_score(vector) == score


@pytest.mark.parametrize("vector", [
    "CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P",
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",  # a metric missing
    "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",  # a value out of range
    "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",  # a metric twice
    "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
])
def test_invalid_vectors_have_no_score(vector: str) -> None:
    assert v3_base_score(vector) is None


def test_roundup_keeps_exact_tenths() -> None:
    assert roundup(4.000001) == 4.0  # CVSS 3.1's integer Roundup: no 4.1 from float noise
    assert roundup(4.02) == 4.1
    assert roundup(4.0) == 4.0


def test_severity_prefers_cvss_v3_then_database_rating_then_medium() -> None:
    v3 = {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
    v4 = {"type": "CVSS_V4",
          "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}
    assert record_severity([v3], "LOW") == (Severity.CRITICAL, "CVSS 9.8")
    assert record_severity([v4], "MODERATE") == (Severity.MEDIUM, "database: MODERATE")
    assert record_severity([v4], None)[0] is Severity.MEDIUM
    assert record_severity([], "high")[0] is Severity.HIGH
    assert record_severity([], None)[0] is Severity.MEDIUM
    assert record_severity([{"type": "CVSS_V3", "score": "garbage"}], "LOW")[0] is Severity.LOW
