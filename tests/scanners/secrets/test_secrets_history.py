"""Git history: a secret committed then deleted is still found, at the commit that added it."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from samples import crc_token

from conftest import RunStep
from secpipe.cli.main import main
from secpipe.core.errors import InputError

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    out = subprocess.run(["git", "-C", str(repo), *args], env=env, check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


def _repo(root: Path) -> tuple[str, str]:
    token = crc_token(random.Random(21), "ghp_")
    _git(root, "init", "-q", "-b", "main")
    (root / "app.py").write_text("print('hi')\n")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "start")
    (root / "app.py").write_text(f"print('hi')\nGITHUB_TOKEN = '{token}'\n")
    _git(root, "commit", "-q", "-am", "oops")
    leaked = _git(root, "rev-parse", "HEAD")
    (root / "app.py").write_text("print('hi')\n")
    _git(root, "commit", "-q", "-am", "remove the token")
    return token, leaked


def test_deleted_secret_is_found_in_history(project: Path, run_step: RunStep) -> None:
    token, leaked = _repo(project)
    assert run_step(project).findings == ()
    result = run_step(project, history=True)
    assert [(f.rule_id, f.location.path, f.location.line, f.location.commit)
            for f in result.findings] == [("secrets.github-pat", "app.py", 2, leaked)]
    assert result.metrics["commits_scanned"] == 3
    assert token not in repr(result)


def test_not_a_git_repository_is_an_input_error(project: Path, run_step: RunStep) -> None:
    with pytest.raises(InputError, match="not a git repository"):
        run_step(project, history=True)


def _break(project: Path) -> None:
    _repo(project)
    objects = project / ".git" / "objects"
    for folder in objects.iterdir():
        if len(folder.name) == 2:
            shutil.rmtree(folder)


def test_broken_repository_is_an_input_error(project: Path, run_step: RunStep) -> None:
    _break(project)
    with pytest.raises(InputError, match="broken git repository"):
        run_step(project, history=True)


def test_broken_repository_exits_2_from_the_cli(project: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _break(project)
    assert main(["scan", "secrets", str(project), "--history", "-q"]) == 2
    assert "broken git repository" in capsys.readouterr().err
