"""Issue 9: the cases the hostile test found already handled (tampering, archive bombs, a
corrupted run store, FIFOs in the tree), kept here so they stay handled."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from secpipe.cli.main import main


def test_a_corrupted_run_store_is_one_line_and_exit_2(project: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    state = project / ".secpipe"
    state.mkdir()
    (state / "runs.db").write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    assert main(["runs", "-C", str(project)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("secpipe: error:") and "Traceback" not in err


@pytest.mark.parametrize("tamper", ["model", "signature"])
def test_a_tampered_model_or_signature_fails_verification(project: Path, tamper: str) -> None:
    model = project / "model.bin"
    model.write_bytes(os.urandom(4096))
    assert main(["sign", str(model), "-C", str(project), "-q"]) == 0
    signature = project / "model.bin.sig"
    assert main(["verify", str(model), "-C", str(project), "-q"]) == 0
    if tamper == "model":
        data = bytearray(model.read_bytes())
        data[100] ^= 1
        model.write_bytes(bytes(data))
    else:
        text = signature.read_text()
        signature.write_text(text.replace('"sha256"', '"sha384"', 1) if '"sha256"' in text
                             else text[:-20])
    assert main(["verify", str(model), "-C", str(project), "-q"]) in (1, 2)


def test_a_zip_bomb_is_bounded_and_reported(project: Path) -> None:
    bomb = project / "weights.pt"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf, \
            zf.open("archive/data.pkl", "w", force_zip64=True) as fh:
        chunk = b"\x00" * (1 << 20)
        for _ in range(2048):  # 2 GiB of zeros, a few MiB on disk
            fh.write(chunk)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "secpipe", "scan", "models", str(bomb),
                           "--json", "-q", "--max-member-bytes", str(64 << 20)],
                          capture_output=True, text=True, timeout=300)
    assert time.monotonic() - started < 120
    assert proc.returncode in (1, 2), proc.stderr  # a finding or an error, never a pass
    assert "Traceback" not in proc.stderr


def test_a_fifo_in_the_tree_is_never_opened(project: Path) -> None:
    os.mkfifo(project / "pipe")  # opening it for reading would block forever
    (project / "app.py").write_text("print('hello')\n")
    for scanner in ("secrets", "models"):
        proc = subprocess.run([sys.executable, "-m", "secpipe", "scan", scanner, str(project),
                               "-q", "--json"], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert '"pipe"' in proc.stdout  # listed as skipped, not silently ignored
