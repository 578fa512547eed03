"""The ``scan-deps`` step: no database is an error saying how to get one, the data's age in
every result, stale data an error or a finding, nothing to read SKIPPED, and the readers'
inventory matched (manifests, lock files, installed environments)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from osv_helpers import FIXTURES, fixture_db, record

from secpipe.core.registry import load_kind
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext
from secpipe.scanners.base import ScannerSettings
from secpipe.scanners.deps.osvdb import import_sources
from secpipe.scanners.deps.step import DepsScanStep, DepsSettings

DAY = 86400.0


def scan(root: Path, **settings: object) -> StepResult:
    ctx = StepContext(project_root=root, workdir=root / ".work")
    return DepsScanStep().run(ctx, DepsSettings.model_validate(settings))


@pytest.fixture(autouse=True)
def _no_user_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECPIPE_OSV_DB", raising=False)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return fixture_db(tmp_path / "data")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "requirements.txt").write_text("flask==2.2.4\nrequests>=2.0\nnumpy==1.26.4\n")
    return root


def rules(result: StepResult) -> list[str]:
    return sorted(f.rule_id for f in result.findings)


def test_registered_as_a_scanner() -> None:
    kind = load_kind("scan-deps")
    assert kind is DepsScanStep
    assert issubclass(kind.Settings, ScannerSettings)


def test_vulnerable_pin_found_with_fix_and_metrics(project: Path, db: Path) -> None:
    result = scan(project, database=str(db))
    assert result.status is StepStatus.PASSED, result.message
    vuln = [f for f in result.findings if f.rule_id == "deps.vulnerable"]
    assert len(vuln) == 1
    assert "flask 2.2.4" in vuln[0].message and "fixed in 2.2.5" in vuln[0].message
    assert "deps.unpinned" in rules(result)
    assert result.metrics["dependencies"] == 3
    assert result.metrics["vulnerable_dependencies"] == 1
    assert result.metrics["manifests"] == 1
    assert result.metrics["osv_database_age_days"] < 0.01
    assert "duration_seconds" in result.metrics
    assert "OSV data loaded less than an hour ago (as of 2025-06-10)" in result.message
    assert result.message.startswith("1 vulnerable of 3 dependencies in 1 manifest(s)")


def test_no_database_is_an_error_saying_how_to_get_one(project: Path, tmp_path: Path) -> None:
    result = scan(project, database=str(tmp_path / "absent.sqlite3"))
    assert result.status is StepStatus.ERROR
    assert "no OSV vulnerability database at" in result.message
    assert "secpipe db update" in result.message
    assert "secpipe db import FILE" in result.message
    assert not (tmp_path / "absent.sqlite3").exists()  # looking never creates one


def test_default_location_comes_from_the_environment(project: Path, db: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECPIPE_OSV_DB", str(db))
    assert scan(project).status is StepStatus.PASSED
    monkeypatch.setenv("SECPIPE_OSV_DB", str(db.parent / "other.sqlite3"))
    assert scan(project).status is StepStatus.ERROR


def test_age_is_in_message_and_metrics(project: Path, tmp_path: Path) -> None:
    db = tmp_path / "osv.sqlite3"
    import_sources([FIXTURES], db, now=time.time() - 2.5 * DAY)
    result = scan(project, database=str(db))
    assert result.status is StepStatus.PASSED
    assert "OSV data loaded 2 days ago" in result.message
    assert 2.4 < result.metrics["osv_database_age_days"] < 2.6


def test_stale_database_is_an_error_by_default(project: Path, tmp_path: Path) -> None:
    db = tmp_path / "osv.sqlite3"
    import_sources([FIXTURES], db, now=time.time() - 10 * DAY)
    result = scan(project, database=str(db))
    assert result.status is StepStatus.ERROR
    assert "OSV data loaded 10 days ago" in result.message
    assert "max_database_age_days (7)" in result.message
    assert "secpipe db update" in result.message
    assert result.metrics["osv_database_age_days"] > 9.9
    # a longer allowance accepts it
    assert scan(project, database=str(db), max_database_age_days=30).status is StepStatus.PASSED


def test_stale_database_as_a_finding(project: Path, tmp_path: Path) -> None:
    db = tmp_path / "osv.sqlite3"
    import_sources([FIXTURES], db, now=time.time() - 10 * DAY)
    result = scan(project, database=str(db), on_stale_database="finding")
    assert result.status is StepStatus.PASSED
    stale = [f for f in result.findings if f.rule_id == "deps.database-stale"]
    assert len(stale) == 1 and stale[0].severity.value == "high"
    assert "deps.vulnerable" in rules(result)  # still matched


def test_nothing_found_is_skipped(tmp_path: Path, db: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    (root / "main.py").write_text("print('hi')\n")
    result = scan(root, database=str(db))
    assert result.status is StepStatus.SKIPPED
    assert result.message.startswith("nothing found:")


def test_ecosystem_without_data_is_a_finding(tmp_path: Path) -> None:
    db = tmp_path / "osv.sqlite3"
    import_sources([FIXTURES], db, ecosystems=["PyPI"])
    root = tmp_path / "web"
    root.mkdir()
    lock = {"name": "web", "version": "1.0.0", "lockfileVersion": 3, "packages": {
        "": {"name": "web", "version": "1.0.0", "dependencies": {"lodash": "^4.17.0"}},
        "node_modules/lodash": {"version": "4.17.20"}}}
    (root / "package-lock.json").write_text(json.dumps(lock))
    result = scan(root, database=str(db))
    missing = [f for f in result.findings if f.rule_id == "deps.database-missing-ecosystem"]
    assert len(missing) == 1
    assert "no npm data" in missing[0].message
    assert "secpipe db update --ecosystem npm" in missing[0].remediation
    assert "deps.vulnerable" not in rules(result)


def test_npm_lock_is_matched(tmp_path: Path, db: Path) -> None:
    root = tmp_path / "web"
    root.mkdir()
    lock = {"name": "web", "version": "1.0.0", "lockfileVersion": 3, "packages": {
        "": {"name": "web", "version": "1.0.0", "dependencies": {"minimist": "^1.2.0"}},
        "node_modules/minimist": {"version": "1.2.5"}}}
    (root / "package-lock.json").write_text(json.dumps(lock))
    result = scan(root, database=str(db))
    vuln = [f for f in result.findings if f.rule_id == "deps.vulnerable"]
    assert [dict(f.properties)["fixed"] for f in vuln] == ["1.2.6"]


def test_unreadable_manifest_is_a_finding(tmp_path: Path, db: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "poetry.lock").write_text("[[package]\nname = 'x'\n")
    result = scan(root, database=str(db))
    assert result.status is StepStatus.PASSED
    assert "deps.manifest-unreadable" in rules(result)


def test_oversized_generated_file_is_a_finding_in_bounded_time(tmp_path: Path,
                                                               db: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    line = b"package-with-a-long-name-0000==1.0.0\n"
    (root / "requirements.txt").write_bytes(line * (12 * (1 << 20) // len(line) + 1))
    started = time.monotonic()
    result = scan(root, database=str(db))
    assert time.monotonic() - started < 10
    [problem] = [f for f in result.findings if f.rule_id == "deps.manifest-unreadable"]
    assert "requirements.txt" in problem.message


def test_installed_environment_is_matched(tmp_path: Path, db: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    venv = root / "venv"
    site = venv / "lib" / "python3.11" / "site-packages"
    dist = site / "PyYAML-5.3.dist-info"
    dist.mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.4\n")
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: PyYAML\nVersion: 5.3\n"
                                   "License: MIT\n")
    result = scan(root, database=str(db), installed=["venv"], paths=["venv"])
    vuln = [f for f in result.findings if f.rule_id == "deps.vulnerable"]
    ids = sorted(dict(f.properties)["advisories"].split(",")[0] for f in vuln)
    assert ids == ["GHSA-6757-jp84-gxfx", "GHSA-8q59-q68h-6hv4"]
    assert {dict(f.properties)["fixed"] for f in vuln} == {"5.3.1", "5.4"}


def test_installed_path_that_does_not_exist_is_an_error(project: Path, db: Path) -> None:
    result = scan(project, database=str(db), installed=["no-such-venv"])
    assert result.status is StepStatus.ERROR
    assert "no-such-venv" in result.message


def test_unknown_ecosystem_setting_is_an_error(project: Path, db: Path) -> None:
    result = scan(project, database=str(db), ecosystems=["PyPI", "Maven"])
    assert result.status is StepStatus.ERROR and "Maven" in result.message


def test_explicit_file_that_is_no_manifest_is_an_error(project: Path, db: Path) -> None:
    (project / "notes.txt").write_text("flask==2.2.4\n")
    result = scan(project, database=str(db), paths=["notes.txt"])
    assert result.status is StepStatus.ERROR
    assert "not a dependency manifest" in result.message


def test_withdrawn_record_in_the_data_is_not_matched(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "requirements.txt").write_text("requests==2.32.4\n")
    src = tmp_path / "extra.json"
    src.write_text(json.dumps([record("T-W", "requests", [{"introduced": "0"}],
                                      withdrawn="2024-01-01T00:00:00Z")]))
    db = tmp_path / "osv.sqlite3"
    import_sources([FIXTURES, src], db)
    result = scan(root, database=str(db))
    assert result.status is StepStatus.PASSED
    assert "deps.vulnerable" not in rules(result)
    (root / "requirements.txt").write_text("requests==2.31.0\n")  # a real advisory still matches
    assert "deps.vulnerable" in rules(scan(root, database=str(db)))


def test_missing_installed_environment_says_where_it_looked(project: Path, db: Path,
                                                            tmp_path: Path) -> None:
    # `--installed .venv` typed in another folder than the project: the message names the
    # folder looked in and the rule, so the user sees why their .venv was not found
    result = scan(project, database=str(db), installed=[".venv"])
    assert result.status is StepStatus.ERROR
    assert result.message.startswith("installed: .venv: no such environment or interpreter")
    assert f"looked in {project / '.venv'}" in result.message
    assert "relative path is taken from the project root" in result.message
    (project / ".venv").mkdir()
    result = scan(project, database=str(db), installed=[".venv"])
    assert result.status is StepStatus.ERROR
    assert "no site-packages folder found" in result.message
    assert f"looked in {project / '.venv'}" in result.message
    absent = tmp_path / "elsewhere"
    result = scan(project, database=str(db), installed=[str(absent)])
    assert result.message == f"installed: {absent}: no such environment or interpreter"


def test_ranges_in_constraints_files_are_not_unpinned_findings(tmp_path: Path, db: Path) -> None:
    # a constraints file narrows what another file asks for: a range there is not a
    # dependency left unpinned, while an exact vulnerable pin there is still matched
    root = tmp_path / "project"
    root.mkdir()
    (root / "requirements.txt").write_text("flask\n-c constraints.txt\n")
    (root / "constraints.txt").write_text("flask<2.3\nrequests==2.19.0\nnumpy>=1.21\n")
    result = scan(root, database=str(db))
    found = sorted((f.rule_id, f.location.path, f.message.split(" ")[0])
                   for f in result.findings if f.rule_id in ("deps.unpinned", "deps.vulnerable"))
    assert ("deps.unpinned", "requirements.txt", "flask") in found
    assert [f for f in found if f[0] == "deps.unpinned" and f[1] == "constraints.txt"] == []
    assert ("deps.vulnerable", "constraints.txt", "requests") in found
