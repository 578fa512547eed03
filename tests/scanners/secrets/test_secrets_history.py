"""Git history: a secret committed then deleted is still found, at the commit that added it."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from secrets_helpers import RunStep
from secrets_samples import crc_token

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


def test_history_honours_exclude_globs(project: Path, run_step: RunStep) -> None:
    _repo(project)
    assert run_step(project, history=True, exclude=["app.py"]).findings == ()


def test_history_rescan_reads_only_new_commits(project: Path, run_step: RunStep,
                                               tmp_path: Path) -> None:
    _, leaked = _repo(project)
    cache = tmp_path / "cache"
    first = run_step(project, history=True, cache_dir=cache)
    assert first.metrics["history_cache_hits"] == 0
    second = run_step(project, history=True, cache_dir=cache)
    assert second.metrics["history_cache_hits"] == 3
    assert second.metrics["history_bytes_scanned"] == 0
    assert [f.location.commit for f in second.findings] == [leaked]
    (project / "b.txt").write_text("new\n")
    _git(project, "add", ".")
    _git(project, "commit", "-q", "-m", "more")
    third = run_step(project, history=True, cache_dir=cache)
    assert third.metrics["history_cache_hits"] == 3 and third.metrics["commits_scanned"] == 4
    assert [f.location.commit for f in third.findings] == [leaked]


def test_history_size_bound_is_reported(project: Path, run_step: RunStep) -> None:
    _repo(project)
    result = run_step(project, history=True, max_history_bytes=100)
    assert [f.rule_id for f in result.findings] == ["secrets.scan-incomplete"]
    assert "git history larger than 100 bytes" in result.findings[0].message


def test_history_of_a_subfolder_is_relative_to_it(project: Path, run_step: RunStep) -> None:
    sub = project / "svc"
    sub.mkdir()
    token = crc_token(random.Random(22), "npm_")
    _git(project, "init", "-q", "-b", "main")
    (sub / "conf.py").write_text(f"NPM_TOKEN = '{token}'\n")
    (project / "other.py").write_text(f"NPM_TOKEN = '{token}'\n")
    _git(project, "add", ".")
    _git(project, "commit", "-q", "-m", "add")
    (sub / "conf.py").write_text("x = 1\n")
    _git(project, "commit", "-q", "-am", "remove")
    result = run_step(sub, history=True)
    assert [(f.location.path, f.location.line) for f in result.findings] == [("conf.py", 1)]
    cache = project.parent / "cache"
    run_step(project, history=True, cache_dir=cache)  # the whole repository first
    again = run_step(sub, history=True, cache_dir=cache)
    assert [(f.location.path, f.location.line) for f in again.findings] == [("conf.py", 1)]
