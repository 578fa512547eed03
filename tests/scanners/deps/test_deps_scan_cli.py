"""``secpipe scan deps`` end to end: the database from ``--database`` or ``SECPIPE_OSV_DB`` (in
a temporary folder), exit 2 without one, the settings as options."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from osv_helpers import FIXTURES, fixture_db

from secpipe.cli.main import main
from secpipe.core import exitcodes
from secpipe.scanners.deps.osvdb import import_sources


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "requirements.txt").write_text("flask==2.2.4\nwerkzeug==3.0.3\n")
    monkeypatch.chdir(root)
    monkeypatch.delenv("SECPIPE_OSV_DB", raising=False)  # never a developer's own database
    return root


def test_no_database_exits_2_saying_how_to_get_one(project: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SECPIPE_OSV_DB", str(tmp_path / "nowhere" / "osv.sqlite3"))
    code = main(["scan", "deps", "."])
    err = capsys.readouterr().err
    assert code == exitcodes.ERROR
    assert "no OSV vulnerability database at" in err
    assert "secpipe db update" in err and "secpipe db import FILE" in err
    assert "Traceback" not in err


def test_no_database_in_the_default_cache_exits_2(project: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # the test-wide fixture points XDG_CACHE_HOME at an empty temporary home
    assert main(["scan", "deps", "."]) == exitcodes.ERROR
    assert "secpipe/osv.sqlite3" in capsys.readouterr().err


def test_vulnerable_pin_exits_1_with_the_fix_named(project: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SECPIPE_OSV_DB", str(fixture_db(tmp_path)))
    code = main(["scan", "deps", ".", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == exitcodes.GATE_FAILED
    [step] = data["steps"]
    assert step["metrics"]["vulnerable_dependencies"] == 1
    assert "osv_database_age_days" in step["metrics"]
    vuln = [f for f in data["findings"] if f["rule_id"] == "deps.vulnerable"]
    assert len(vuln) == 1
    assert vuln[0]["properties"]["fixed"] == "2.2.5"
    assert "GHSA-m2qf-hxjv-5gpq / PYSEC-2023-62 / CVE-2023-30861" in vuln[0]["message"]


def test_database_option_and_stale_policy_options(project: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "old.sqlite3"
    import_sources([FIXTURES], db, now=time.time() - 9 * 86400)
    assert main(["scan", "deps", ".", "--database", str(db)]) == exitcodes.ERROR
    assert "OSV data loaded 9 days ago" in capsys.readouterr().err
    code = main(["scan", "deps", ".", "--database", str(db), "--on-stale-database", "finding",
                 "--fail-on", "critical"])
    out = capsys.readouterr().out
    assert code == exitcodes.PASSED
    assert "deps.database-stale" in out
    assert main(["scan", "deps", ".", "--database", str(db),
                 "--max-database-age-days", "30", "--fail-on", "critical"]) == exitcodes.PASSED
