"""The step: files found, skipped, metrics, cache, bounds, bad input."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from secrets_helpers import RunStep
from secrets_samples import crc_token

from secpipe.core.errors import InputError
from secpipe.core.findings import Severity
from secpipe.core.results import StepStatus
from secpipe.scanners.secrets import engine, step


def _project(root: Path) -> str:
    token = crc_token(random.Random(11), "ghp_")
    (root / "src").mkdir(parents=True)
    (root / "src" / "settings.py").write_text(f"import os\nGITHUB_TOKEN = '{token}'\n")
    (root / "src" / "clean.py").write_text("print('hello')\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(100))
    (root / ".git").mkdir()
    (root / ".git" / "leak").write_text(f"t={token}\n")
    (root / "node_modules" / "pkg").mkdir(parents=True)
    (root / "node_modules" / "pkg" / "x.js").write_text(f"t='{token}'\n")
    return token


def test_scan_reports_secret_with_metrics_skips_and_excludes(project: Path,
                                                             run_step: RunStep) -> None:
    token = _project(project)
    result = run_step(project)
    assert [(f.rule_id, f.location.path, f.location.line) for f in result.findings] == [
        ("secrets.github-pat", "src/settings.py", 2)]
    finding = result.findings[0]
    assert finding.tags == ("CWE-798",) and "rotate" in finding.remediation.lower()
    assert token not in repr(result)
    assert [s.path for s in result.skipped] == ["logo.png"]
    assert result.metrics["files_scanned"] == 3
    assert result.metrics["secrets_found"] == 1
    assert result.tool.startswith("secpipe ")


def test_fingerprint_survives_moving_the_line(project: Path, run_step: RunStep) -> None:
    token = _project(project)
    first = run_step(project).findings[0].fingerprint
    (project / "src" / "settings.py").write_text(f"# moved\n\n\nGITHUB_TOKEN = '{token}'\n")
    assert run_step(project).findings[0].fingerprint == first


def test_second_scan_hits_the_cache(project: Path, run_step: RunStep, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _project(project)
    cache = tmp_path / "cache"
    first = run_step(project, cache_dir=cache)
    assert first.metrics["cache_hits"] == 0
    second = run_step(project, cache_dir=cache)  # files are fresh: found again by content hash
    assert second.metrics["cache_hits"] == second.metrics["files_scanned"] == 3
    assert [f.fingerprint for f in second.findings] == [f.fingerprint for f in first.findings]
    monkeypatch.setattr(step, "trusted", lambda entry, key: True)  # the stat fast path
    monkeypatch.setattr(engine, "scan_bytes", lambda *a, **k: pytest.fail("file was re-read"))
    third = run_step(project, cache_dir=cache)
    assert third.metrics["cache_hits"] == 3
    assert len(third.findings) == 1


def test_changed_file_is_scanned_again(project: Path, run_step: RunStep, tmp_path: Path) -> None:
    _project(project)
    cache = tmp_path / "cache"
    run_step(project, cache_dir=cache)
    (project / "src" / "settings.py").write_text("print('no more secret')\n")
    result = run_step(project, cache_dir=cache)
    assert result.findings == ()


def test_parallel_workers_give_the_same_findings(project: Path, run_step: RunStep,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _project(project)
    for i in range(6):
        token = crc_token(random.Random(i), "npm_")
        (project / "src" / f"m{i}.py").write_text(f"K{i} = '{token}'\n")
    serial = run_step(project, workers=1)
    monkeypatch.setattr(step, "_POOL_MIN_BYTES", 0)
    monkeypatch.setattr(step, "_BATCH_FILES", 2)
    parallel = run_step(project, workers=2)
    assert sorted(f.fingerprint for f in parallel.findings) == sorted(
        f.fingerprint for f in serial.findings)
    assert len(parallel.findings) == 7


def test_missing_path_is_an_input_error_naming_it(project: Path, run_step: RunStep) -> None:
    with pytest.raises(InputError, match=r"nope\.py: no such file or folder"):
        run_step(project, paths=["nope.py"])


def test_huge_file_is_head_scanned_reported_and_skipped(project: Path, run_step: RunStep) -> None:
    token = crc_token(random.Random(3), "ghp_")
    (project / "big.txt").write_text(f"t = '{token}'\n" + "x = 1\n" * 5000)
    result = run_step(project, paths=["big.txt"], max_file_bytes=1000)
    rules = sorted(f.rule_id for f in result.findings)
    assert rules == ["secrets.github-pat", "secrets.scan-incomplete"]
    assert result.skipped[0].path == "big.txt" and "too large" in result.skipped[0].reason
    assert result.status is StepStatus.ERROR  # named explicitly: the scan did not complete
    assert result.message.startswith("big.txt: too large")
    in_tree = run_step(project, max_file_bytes=1000)  # found by walking: a finding, not an error
    assert in_tree.status is StepStatus.PASSED
    assert "secrets.scan-incomplete" in {f.rule_id for f in in_tree.findings}


def test_unreadable_file_is_skipped_and_reported(project: Path, run_step: RunStep,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "locked.env").write_text("A=1\n")

    def deny(*args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(engine, "open", deny, raising=False)
    result = run_step(project, paths=["locked.env"])
    assert [(f.rule_id, f.severity) for f in result.findings] == [
        ("secrets.unreadable", Severity.HIGH)]  # high: the default policy fails on it
    assert result.skipped[0].reason == "unreadable: Permission denied"
    assert result.status is StepStatus.ERROR
    assert result.message == "locked.env: unreadable: Permission denied"


def test_symlinks_are_not_followed(project: Path, run_step: RunStep, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text(f"t = '{crc_token(random.Random(5), 'ghp_')}'\n")
    (project / "link.txt").symlink_to(outside)
    result = run_step(project)
    assert result.findings == ()
    assert result.skipped[0].reason.startswith("symbolic link")


def test_unknown_setting_is_rejected() -> None:
    with pytest.raises(ValueError, match="histroy"):
        step.SecretsScanStep.Settings.model_validate({"histroy": True})


def test_default_excludes_can_be_turned_off(project: Path, run_step: RunStep) -> None:
    _project(project)
    paths = {f.location.path for f in run_step(project, default_excludes=False).findings}
    assert paths == {"src/settings.py", ".git/leak", "node_modules/pkg/x.js"}
    paths = {f.location.path for f in run_step(project, exclude=["src/"]).findings}
    assert paths == set()


def test_cancel_stops_the_scan(project: Path, tmp_path: Path) -> None:
    from secpipe.core.errors import StepError
    from secpipe.core.step import StepContext

    _project(project)
    ctx = StepContext(project_root=project, workdir=tmp_path / "w")
    ctx.cancel.set()
    with pytest.raises(StepError, match="cancelled"):
        step.SecretsScanStep().run(ctx, step.SecretsScanStep.Settings())
