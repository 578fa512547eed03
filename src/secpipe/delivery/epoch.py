"""``SOURCE_DATE_EPOCH`` of a build: the setting, else the environment variable, else the time of
the project's last git commit (``git log -1 --format=%ct``, run under the tool supervisor), else
none (the build is then not reproducible, and the step says so).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from secpipe.core.errors import ConfigError
from secpipe.tools.capture import KeepHead, KeepTail
from secpipe.tools.env import tool_env
from secpipe.tools.supervisor import ToolCall, ToolStartError, run_tool

EpochSource = Literal["setting", "environment", "git", "none"]
MAX_EPOCH = 253402300799
"""9999-12-31T23:59:59Z: later values are refused."""
GIT_TIMEOUT = 20.0


@dataclass(frozen=True)
class BuildEpoch:
    """The timestamp a build stamps on the image, and where it came from."""

    seconds: int | None
    """Seconds since 1970 (None: no timestamp, the build is not reproducible)."""
    source: EpochSource
    """``setting``, ``environment``, ``git`` or ``none``."""


def parse_epoch(value: str | int, what: str) -> int:
    """A non-negative integer number of seconds, else :class:`ConfigError` naming ``what``."""
    text = str(value).strip()
    if not text.isdigit() or len(text) > 12 or int(text) > MAX_EPOCH:
        raise ConfigError(f"{what}: {text[:40]!r} is not a number of seconds since 1970")
    return int(text)


def git_commit_time(root: Path, workdir: Path, cancel: threading.Event | None = None) -> int | None:
    """The committer time of ``HEAD`` of the git repository holding ``root``, or None when there
    is none (no git, not a repository, no commit). Hooks and fsmonitor are disabled."""
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / "git-epoch.out"
    argv = ("git", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null",
            "-C", str(root), "log", "-1", "--format=%ct", "HEAD")
    call = ToolCall(argv, root, tool_env(), KeepHead(out, 64), KeepTail(workdir / "git-epoch.err",
                                                                        4096), GIT_TIMEOUT)
    try:
        outcome = run_tool(call, cancel=cancel)
        text = out.read_text("ascii", "replace").strip() if out.is_file() else ""
    except (ToolStartError, OSError):
        return None
    finally:
        out.unlink(missing_ok=True)
        (workdir / "git-epoch.err").unlink(missing_ok=True)
    if outcome.exit_code != 0 or not text.isdigit() or int(text) > MAX_EPOCH:
        return None
    return int(text)


def build_epoch(setting: int | None, root: Path, workdir: Path, *, use_git: bool = True,
                environ: Mapping[str, str] | None = None,
                cancel: threading.Event | None = None) -> BuildEpoch:
    """The build's timestamp, in the order of the module docstring."""
    if setting is not None:
        return BuildEpoch(setting, "setting")
    env = os.environ if environ is None else environ
    raw = env.get("SOURCE_DATE_EPOCH", "").strip()
    if raw:
        return BuildEpoch(parse_epoch(raw, "SOURCE_DATE_EPOCH"), "environment")
    if use_git:
        seconds = git_commit_time(root, workdir, cancel)
        if seconds is not None:
            return BuildEpoch(seconds, "git")
    return BuildEpoch(None, "none")
