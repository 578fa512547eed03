"""``secpipe scan secrets`` in-process: exit codes, and no secret in clear in any output."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from secrets_samples import SAMPLES, crc_token

from secpipe.cli.main import main


def _leaky(project: Path) -> list[str]:
    rng = random.Random(31)
    texts = [SAMPLES[rule][0](rng) for rule in sorted(SAMPLES)]
    (project / "leaks.py").write_text("".join(texts))
    return texts


def test_json_and_table_output_never_show_a_secret(project: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    token = crc_token(random.Random(32), "ghp_")
    (project / "a.env").write_text(f"GITHUB_TOKEN={token}\n")
    assert main(["scan", "secrets", str(project), "--json", "-q", "--no-cache"]) == 1
    out = capsys.readouterr().out
    assert token not in out and token[4:-2] not in out
    report = json.loads(out)
    assert report["findings"][0]["rule_id"] == "secrets.github-pat"
    assert main(["scan", "secrets", str(project), "--no-cache"]) == 1
    captured = capsys.readouterr()
    assert token[4:-2] not in captured.out + captured.err
    assert "secrets.github-pat" in captured.out


def test_no_secret_of_any_rule_leaks_into_the_report(project: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    _leaky(project)
    assert main(["scan", "secrets", str(project), "--json", "-q", "--no-cache"]) == 1
    out = capsys.readouterr().out
    findings = json.loads(out)["findings"]
    assert len(findings) >= len(SAMPLES)
    text = (project / "leaks.py").read_text()
    for finding in findings:  # no 8-character run of any finding's secret appears in the output
        line = text.splitlines()[finding["location"]["line"] - 1]
        col = finding["location"]["column"] - 1
        window = line[col + 4 : col + 12]
        if len(window) == 8:
            assert window not in out, finding["rule_id"]


def test_clean_tree_exits_0_and_missing_path_exits_2(project: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (project / "ok.py").write_text("print('fine')\n")
    assert main(["scan", "secrets", str(project), "-q"]) == 0
    assert main(["scan", "secrets", str(project / "missing.txt"), "-q"]) == 2
    assert "missing.txt" in capsys.readouterr().err


def test_exclude_option_adds_to_the_default_excludes(project: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    token = crc_token(random.Random(33), "ghp_")
    (project / "fixtures").mkdir()
    (project / "fixtures" / "t.py").write_text(f"T = '{token}'\n")
    (project / ".git").mkdir()
    (project / ".git" / "x").write_text(f"T = '{token}'\n")
    assert main(["scan", "secrets", str(project), "-q", "--exclude", "fixtures/"]) == 0


def test_huge_file_named_on_the_command_line_exits_2_naming_it(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "dump.sql").write_text("INSERT INTO t VALUES (1);\n" * 200)
    code = main(["scan", "secrets", str(project / "dump.sql"), "-q", "--max-file-bytes", "100"])
    assert code == 2
    assert "dump.sql: too large" in capsys.readouterr().err
