"""A scan that could not complete says so on stderr (exit 2) and never prints "no findings",
which would read as a clean scan."""

from __future__ import annotations

from pathlib import Path

import pytest

from secpipe.cli.main import main


def test_scan_that_errors_prints_no_clean_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "requirements.txt").write_text("flask==2.2.4\n")
    monkeypatch.setenv("SECPIPE_OSV_DB", str(tmp_path / "absent.sqlite3"))
    assert main(["scan", "deps", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert "no findings" not in out
    assert "secpipe db update" in err and "secpipe db import" in err
