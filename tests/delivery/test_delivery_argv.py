"""buildah argv builders and the build's SOURCE_DATE_EPOCH (no buildah needed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from secpipe.core.errors import ConfigError
from secpipe.delivery.buildah import BudOptions, Store, bud_argv, pull_argv, push_argv, split_tag
from secpipe.delivery.epoch import build_epoch, git_commit_time, parse_epoch

STORE = Store(Path("/w/storage/root"), Path("/w/storage/runroot"))


@pytest.mark.parametrize(("image", "expected"), [
    ("localhost/app", ("localhost/app", "latest")),
    ("localhost/app:1.0", ("localhost/app", "1.0")),
    ("localhost:5000/team/app:v2", ("localhost:5000/team/app", "v2")),
    ("app", ("app", "latest")),
])
def test_split_tag(image: str, expected: tuple[str, str]) -> None:
    assert split_tag(image) == expected


@pytest.mark.parametrize("image", ["App:1", "localhost/app:", "a b", "app:-x", "--root=/x",
                                   "app@sha256:00", "localhost/app:" + "x" * 200])
def test_split_tag_refuses(image: str) -> None:
    with pytest.raises(ValueError):
        split_tag(image)


def test_bud_argv_is_daemonless_pull_free_and_stamped() -> None:
    argv = bud_argv("buildah", STORE, BudOptions(
        dockerfile=Path("/p/Dockerfile"), context=Path("/p"), image="localhost/app:1",
        epoch=1700000000, base_id="a" * 64, build_args={"B": "2", "A": "1"}, target="serve"))
    assert argv[:7] == ("buildah", "--root", "/w/storage/root", "--runroot",
                        "/w/storage/runroot", "--storage-driver", "vfs")
    assert argv[7] == "bud" and argv[-1] == "/p"
    joined = " ".join(argv)
    for part in ("--isolation chroot", "--pull=never", "--timestamp 1700000000",
                 "--identity-label=false", "--no-cache", f"--from {'a' * 64}",
                 "--build-arg SOURCE_DATE_EPOCH=1700000000", "--target serve",
                 "-f /p/Dockerfile", "-t localhost/app:1"):
        assert part in joined
    assert joined.index("A=1") < joined.index("B=2")  # sorted: the same argv every time


def test_bud_argv_without_epoch_has_no_timestamp() -> None:
    argv = bud_argv("buildah", STORE, BudOptions(Path("/p/D"), Path("/p"), "app:1"))
    assert "--timestamp" not in argv and "--from" not in argv


def test_bud_argv_refuses_bad_values() -> None:
    with pytest.raises(ValueError):
        bud_argv("buildah", STORE, BudOptions(Path("/D"), Path("/"), "a", base_id="--x"))
    with pytest.raises(ValueError):
        bud_argv("buildah", STORE, BudOptions(Path("/D"), Path("/"), "a",
                                              build_args={"A=B": "1"}))


def test_pull_only_local_layouts_and_push() -> None:
    assert pull_argv("buildah", STORE, "oci:/l:v1")[-4:] == ("--quiet", "--policy", "always",
                                                              "oci:/l:v1")
    with pytest.raises(ValueError):
        pull_argv("buildah", STORE, "docker://debian:12")
    argv = push_argv("buildah", STORE, "app:1", "oci:/o:1", Path("/d"))
    assert argv[-2:] == ("app:1", "oci:/o:1") and "--digestfile" in argv


def test_parse_epoch() -> None:
    assert parse_epoch(" 1700000000 ", "x") == 1700000000
    for bad in ("-1", "1e9", "", "abc", "9" * 13):
        with pytest.raises(ConfigError):
            parse_epoch(bad, "SOURCE_DATE_EPOCH")


def test_epoch_order_setting_environment_none(tmp_path: Path) -> None:
    env = {"SOURCE_DATE_EPOCH": "1600000000"}
    assert build_epoch(5, tmp_path, tmp_path / "w", environ=env).source == "setting"
    got = build_epoch(None, tmp_path, tmp_path / "w", environ=env)
    assert (got.seconds, got.source) == (1600000000, "environment")
    none = build_epoch(None, tmp_path, tmp_path / "w", environ={})
    assert (none.seconds, none.source) == (None, "none")  # tmp_path is no git repository
    with pytest.raises(ConfigError):
        build_epoch(None, tmp_path, tmp_path / "w", environ={"SOURCE_DATE_EPOCH": "soon"})


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_epoch_from_the_last_commit(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "f").write_text("x")
    env = {**os.environ, "GIT_AUTHOR_DATE": "@1650000000 +0000",
           "GIT_COMMITTER_DATE": "@1650000123 +0000", "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_CONFIG_GLOBAL": "/dev/null"}
    for argv in (["git", "init", "-q"], ["git", "add", "f"], ["git", "commit", "-q", "-m", "m"]):
        subprocess.run(argv, cwd=repo, env=env, check=True)
    assert git_commit_time(repo, tmp_path / "w") == 1650000123
    got = build_epoch(None, repo, tmp_path / "w", environ={})
    assert (got.seconds, got.source) == (1650000123, "git")
    assert build_epoch(None, repo, tmp_path / "w", environ={}, use_git=False).source == "none"
    assert not list((tmp_path / "w").iterdir())  # its scratch files are removed
