from __future__ import annotations

from secpipe.core.findings import Finding, Location, Severity


def _finding(line: int, key: str | None = "k") -> Finding:
    return Finding.create(
        rule_id="r", title="t", severity=Severity.HIGH, scanner="s",
        location=Location(path="a/b.py", line=line), message="m", key=key,
        properties={"z": "1", "a": "2"},
    )


def test_fingerprint_is_stable_across_line_moves_when_keyed() -> None:
    assert _finding(3).fingerprint == _finding(30).fingerprint


def test_fingerprint_uses_line_without_key() -> None:
    assert _finding(3, None).fingerprint != _finding(4, None).fingerprint


def test_round_trip() -> None:
    f = _finding(3)
    assert Finding.from_dict(f.to_dict()) == f
    assert f.properties == (("a", "2"), ("z", "1"))


def test_severity_order_and_parse() -> None:
    ranks = [s.rank for s in Severity]
    assert ranks == sorted(ranks, reverse=True)
    assert Severity.parse(" HIGH ") is Severity.HIGH


def test_location_display() -> None:
    loc = Location(path="x.zip", member="a/data.pkl", offset=12, commit="0123456789abcdef")
    assert loc.display() == "0123456789ab:x.zip!a/data.pkl@12"
