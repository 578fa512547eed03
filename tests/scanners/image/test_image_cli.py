"""``secpipe scan image out.tar --json``: exit 1 (vulnerable), 0 (clean), 2 (broken image)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import image_scan_helpers as h

from secpipe.cli.main import main
from secpipe.core import exitcodes

USER = {"config": {"User": "1000:1000"}}


@pytest.fixture
def image_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = h.make_database(tmp_path / "db")
    monkeypatch.setenv("SECPIPE_OSV_DB", str(db))
    monkeypatch.chdir(tmp_path)
    return db


def test_vulnerable_image_fails_the_gate(tmp_path: Path, image_db: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    h.build_oci_archive(tmp_path / "out.tar")
    assert main(["scan", "image", "out.tar", "--json"]) == exitcodes.GATE_FAILED
    out = capsys.readouterr().out
    doc = json.loads(out)
    text = json.dumps(doc)
    assert "image.vulnerable" in text and "DSA-5514-1" in text
    assert "CVE-2023-4911: backported" in text


def test_clean_image_passes(tmp_path: Path, image_db: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    from image_builders import oci_archive

    layers = h.debian_layers(status=h.CLEAN_STATUS, python=False, changelog=False)
    oci_archive(tmp_path / "out.tar", layers, USER)
    code = main(["scan", "image", "out.tar", "--json"])
    out = capsys.readouterr().out
    assert code == exitcodes.PASSED, out
    assert "image.vulnerable" not in out


def test_broken_image_is_exit_2(tmp_path: Path, image_db: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "out.tar").write_bytes(b"\0" * 2048)
    assert main(["scan", "image", "out.tar", "--json"]) == exitcodes.ERROR
    captured = capsys.readouterr()
    assert "out.tar" in captured.out + captured.err
