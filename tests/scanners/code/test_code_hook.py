"""The ``secpipe-code`` pre-commit hook: its entry and arguments, run on staged files the way
pre-commit runs them (file names appended), fail the commit on an unsafe load only."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]


def _hook_command(files: list[Path]) -> list[str]:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "secpipe-code")
    assert hook["language"] == "python" and hook["pass_filenames"] is True
    assert set(hook["types_or"]) == {"python", "jupyter"}
    entry = shlex.split(hook["entry"])
    assert entry[0] == "secpipe"  # the console script pip installs beside the interpreter
    entry[0] = str(Path(sys.executable).parent / "secpipe")
    return [*entry, *hook.get("args", []), *map(str, files)]


def test_hook_fails_on_an_unsafe_load_and_passes_clean_files(tmp_path: Path) -> None:
    clean = tmp_path / "util.py"
    clean.write_text("def add(a, b):\n    return a + b\n")
    unsafe = tmp_path / "serve.py"
    unsafe.write_text("import pickle\nimport requests\n\n"
                      "def fetch(url):\n"
                      "    return pickle.loads(requests.get(url, timeout=5).content)\n")
    ok = subprocess.run(_hook_command([clean]), capture_output=True, text=True, cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = subprocess.run(_hook_command([clean, unsafe]), capture_output=True, text=True,
                         cwd=tmp_path)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "code.pickle-deserialization" in bad.stdout and "serve.py:5" in bad.stdout
