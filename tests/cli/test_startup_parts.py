"""The pieces a one-file scan uses instead of heavier standard modules give the same results.

``secpipe scan models FILE`` starts without ``shutil``, ``tempfile``, ``hashlib``'s OpenSSL
binding, the compression codecs and the escaping regexes (``docs/benchmarks.md``, "One-file
start-up"). Each replacement is checked here against the standard module it stands in for:
the help text against argparse's own formatters, the terminal width against
``shutil.get_terminal_size``, the scratch folder against ``tempfile``'s choice of folder and its
mode, fingerprints against OpenSSL's SHA-256.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from secpipe.cli import main as cli_main
from secpipe.cli import scan_cmd
from secpipe.core.findings import Finding, Location, Severity, compute_fingerprint


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and every sub-parser under it."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found += _parsers(sub)
    return found


def _standard(formatter: type[argparse.HelpFormatter]) -> type[argparse.HelpFormatter]:
    if issubclass(formatter, argparse.RawDescriptionHelpFormatter):
        return argparse.RawDescriptionHelpFormatter
    return argparse.HelpFormatter


@pytest.mark.parametrize("columns", [None, "40", "100", "0", "wide"])
@pytest.mark.parametrize("only", [None, "scan"])
def test_help_is_argparse_s_own(monkeypatch: pytest.MonkeyPatch, columns: str | None,
                                only: str | None) -> None:
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    parsers = _parsers(cli_main.build_parser(only, ["models"] if only else None))
    assert len(parsers) > 3  # the top parser, `scan`, its scanners
    ours = [p.format_help() for p in parsers]
    assert any(issubclass(p.formatter_class, cli_main.HelpFormatter) for p in parsers)
    for p in parsers:
        p.formatter_class = _standard(p.formatter_class)
    assert [p.format_help() for p in parsers] == ours


@pytest.mark.parametrize("columns", [None, "37", "0", "-5", "x"])
def test_terminal_width_is_shutil_s(monkeypatch: pytest.MonkeyPatch, columns: str | None) -> None:
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert cli_main._columns() == shutil.get_terminal_size().columns


def _tempfile_choice(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(tempfile, "tempdir", None)  # tempfile chooses again from the variables
    return tempfile.gettempdir()


def test_scratch_folder_is_private_and_removed(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("stays")
    with scan_cmd._scratch("secpipe-scan-") as work:
        assert work.parent == Path(_tempfile_choice(monkeypatch))
        assert work.name.startswith("secpipe-scan-")
        assert stat.S_IMODE(work.stat().st_mode) == 0o700
        deep = work / "state" / "runs" / "scan" / "models"
        deep.mkdir(parents=True)
        (deep / "out.bin").write_bytes(b"x")
        (work / "link").symlink_to(outside, target_is_directory=True)
    assert not work.exists()
    assert (outside / "keep.txt").read_text() == "stays"  # a link is removed, not followed


def test_scratch_folder_is_removed_when_the_scan_raises(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    with pytest.raises(KeyboardInterrupt), scan_cmd._scratch("p-") as work:
        (work / "f").write_text("x")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", ["missing", "a-file"])
def test_scratch_folder_skips_an_unusable_folder_as_tempfile_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("TMPDIR", str(tmp_path / bad))
    monkeypatch.setenv("TEMP", str(tmp_path))
    with scan_cmd._scratch("p-") as work:
        assert work.parent == Path(_tempfile_choice(monkeypatch)) == tmp_path


def test_fingerprint_is_openssl_s_sha256() -> None:
    for fields in [("models", "models.pickle.unsafe-format", "a/b.pkl", None, "x"),
                   ("secrets", "r", "caf\u00e9/\udcff.txt", "inner/m", "\u202e")]:
        text = "\x1f".join((*fields[:3], fields[3] or "", fields[4]))
        expected = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]
        assert compute_fingerprint(*fields) == expected
    finding = Finding.create(rule_id="r", title="t", severity=Severity.LOW, scanner="models",
                             location=Location(path="p", member="m"), message="", key="k")
    assert finding.fingerprint == compute_fingerprint("models", "r", "p", "m", "k")


def test_the_scan_makes_and_removes_its_scratch_folder_there(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tmp").mkdir()
    (tmp_path / "notes.txt").write_text("nothing\n")
    assert cli_main.main(["scan", "models", "notes.txt", "--json"]) == 0
    assert '"findings"' in capsys.readouterr().out
    assert os.listdir(tmp_path / "tmp") == []  # the scratch folder was made there and removed
