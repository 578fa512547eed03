"""secpipe's state folder is scanned for secrets like any other; its databases are skipped by
content (binary), files removed while the scan runs are skipped, not unreadable."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from secrets_helpers import LIMITS, RunStep
from secrets_samples import crc_token, pem

from secpipe.scanners.base import ScannerSettings
from secpipe.scanners.secrets.engine import REMOVED, scan_file
from secpipe.scanners.secrets.step import SecretsScanStep


def test_state_folder_is_not_a_default_exclude_of_the_secrets_scanner() -> None:
    excludes = SecretsScanStep.Settings().excludes()
    assert ".secpipe/" not in excludes and ".git/" in excludes and ".venv/" in excludes
    assert ".secpipe/" in ScannerSettings().excludes()  # other scanners still skip it
    assert SecretsScanStep.Settings(default_excludes=False).excludes() == []
    assert SecretsScanStep.Settings(exclude=[".secpipe/"]).excludes()[-1] == ".secpipe/"


def test_private_key_under_the_state_folder_is_reported(project: Path, run_step: RunStep) -> None:
    keys = project / ".secpipe" / "keys"
    keys.mkdir(parents=True)
    (keys / "signing.pem").write_text(pem(random.Random(3), "") + "\n")
    result = run_step(project)
    assert [(f.rule_id, f.location.path) for f in result.findings] == [
        ("secrets.private-key", ".secpipe/keys/signing.pem")]


def test_an_excluded_state_folder_is_not_scanned(project: Path, run_step: RunStep) -> None:
    keys = project / ".secpipe" / "keys"
    keys.mkdir(parents=True)
    (keys / "signing.pem").write_text(pem(random.Random(3), "") + "\n")
    assert run_step(project, exclude=[".secpipe/"]).findings == ()


def test_databases_in_the_state_folder_are_skipped_by_content(project: Path,
                                                             run_step: RunStep) -> None:
    state = project / ".secpipe"
    state.mkdir()
    db = sqlite3.connect(state / "runs.db")
    db.execute("CREATE TABLE t (v TEXT)")
    db.execute("INSERT INTO t VALUES (?)", ("redacted evidence ****",))
    db.commit()
    db.close()
    result = run_step(project, cache_dir=state / "cache")
    assert result.findings == ()
    assert (".secpipe/runs.db", "binary") in {(s.path, s.reason) for s in result.skipped}
    again = run_step(project, cache_dir=state / "cache")  # the cache's own files included now
    assert again.findings == ()
    assert any(s.path.startswith(".secpipe/cache/") and s.reason == "binary"
               for s in again.skipped)


def test_file_removed_before_it_is_read_is_skipped_not_unreadable(tmp_path: Path) -> None:
    scan, from_cache, error = scan_file(str(tmp_path / "gone.tmp"), LIMITS)
    assert (scan.skipped, from_cache, error, scan.hits) == (REMOVED, False, "", [])


def test_token_in_a_state_folder_report_is_found(project: Path, run_step: RunStep) -> None:
    """Whatever a tool wrote in clear into a run folder is a leak: it is reported."""
    out = project / ".secpipe" / "runs" / "r1" / "exec"
    out.mkdir(parents=True)
    (out / "tool-output.txt").write_text(f"token={crc_token(random.Random(4), 'ghp_')}\n")
    result = run_step(project)
    assert [f.location.path for f in result.findings] == [".secpipe/runs/r1/exec/tool-output.txt"]
