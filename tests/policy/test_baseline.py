"""Baseline files: read bounded and fail closed, written atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from secpipe.core.errors import ConfigError
from secpipe.core.findings import Finding, Location, Severity
from secpipe.policy.baseline import load_baseline, write_baseline


def _finding(line: int) -> Finding:
    return Finding.create(rule_id="r", title="r", severity=Severity.HIGH, scanner="scan-x",
                          location=Location(path="a.py", line=line), message="m")


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "base.json"
    found = [_finding(1), _finding(2), _finding(1)]
    assert write_baseline(path, found, "run-1") == 2
    assert load_baseline(path) == {f.fingerprint for f in found}
    assert path.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[]", "expected an object with a 'fingerprints' list"),
        (b'{"fingerprints": "abc"}', "expected an object"),
    ],
)
def test_malformed_baseline_is_a_config_error(tmp_path: Path, content: bytes,
                                              expected: str) -> None:
    path = tmp_path / "base.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=expected):
        load_baseline(path)


def test_baseline_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory, not a regular file"):
        load_baseline(tmp_path)


def test_failed_write_keeps_the_old_baseline(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "base.json"
    write_baseline(path, [_finding(1)], "run-1")
    before = path.read_text()

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ConfigError, match="cannot write: No space left on device"):
        write_baseline(path, [_finding(2)], "run-2")
    assert path.read_text() == before and json.loads(before)["run_id"] == "run-1"
    assert [p.name for p in tmp_path.iterdir()] == ["base.json"]


def _undecided(rule_id: str, line: int = 1) -> Finding:
    return Finding.create(rule_id=rule_id, title="could not decide", severity=Severity.HIGH,
                          scanner="scan-web", location=Location(path="http://x/", line=line),
                          message="scan incomplete")


UNDECIDED_IDS = ["web.scan-incomplete", "ports.scan-incomplete", "models.unreadable",
                 "code.unreadable", "models.undecided", "sarif.truncated"]


@pytest.mark.parametrize("rule_id", UNDECIDED_IDS)
def test_could_not_decide_findings_are_never_written_nor_accepted(tmp_path: Path,
                                                                  rule_id: str) -> None:
    from secpipe.policy.baseline import baseline_accepts, left_out_of_baseline
    from secpipe.policy.evaluate import evaluate
    from secpipe.policy.model import PolicySpec

    known, blind = _finding(1), _undecided(rule_id)
    path = tmp_path / "b.json"
    assert left_out_of_baseline([known, blind]) == 1
    assert write_baseline(path, [known, blind], "run-1") == 1
    written = json.loads(path.read_text())
    assert written["fingerprints"] == [known.fingerprint]
    # a baseline written before this rule (or edited) that lists it: dropped when loaded
    written["fingerprints"].append(blind.fingerprint)
    written["findings"].append({"fingerprint": blind.fingerprint, "rule_id": rule_id,
                                "location": "http://x/"})
    path.write_text(json.dumps(written))
    loaded = load_baseline(path)
    assert loaded == {known.fingerprint}
    decision = evaluate(PolicySpec(fail_on=Severity.HIGH), [known, blind], {}, baseline=loaded)
    assert not decision.passed and decision.baselined == 1
    # a bare fingerprint list (no findings entries) still cannot accept it at the gate
    bare = frozenset({known.fingerprint, blind.fingerprint})
    assert baseline_accepts(bare, known) and not baseline_accepts(bare, blind)


def test_an_inline_ignore_never_suppresses_a_could_not_decide_finding() -> None:
    import datetime as dt

    from secpipe.policy.evaluate import evaluate
    from secpipe.policy.inline import mark_inline
    from secpipe.policy.model import PolicySpec

    later = dt.date.today() + dt.timedelta(days=30)
    blind = mark_inline(_undecided("iac.unreadable"), "known", later, "main.tf:3")
    fine = mark_inline(_finding(2), "known", later, "a.py:2")
    decision = evaluate(PolicySpec(fail_on=Severity.HIGH), [blind, fine], {})
    assert not decision.passed and decision.suppressed == 1
    assert any("could not decide" in note for note in decision.notes)
