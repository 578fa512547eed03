"""Test helpers of tests/delivery: image_builders (tests/images) on the path, a project folder,
a step context, fake buildah programs."""

from __future__ import annotations

import sys
from pathlib import Path

from secpipe.core.step import StepContext

_IMAGES = str(Path(__file__).resolve().parents[1] / "images")
if _IMAGES not in sys.path:
    sys.path.insert(0, _IMAGES)

EPOCH = 1_700_000_000


def make_project(root: Path, files: dict[str, bytes] | None = None,
                 dockerfile: str = "FROM scratch\nCOPY hello.txt /hello.txt\n") -> Path:
    """A project folder with a Dockerfile and its files."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    for name, data in (files if files is not None else {"hello.txt": b"hello\n"}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def context(root: Path, workdir: Path, logs: list[str] | None = None) -> StepContext:
    """A step context for ``root`` writing into ``workdir``."""
    sink = logs if logs is not None else []
    return StepContext(project_root=root, workdir=workdir, step_id="image", log=sink.append)


def fake_program(folder: Path, name: str, script: str) -> Path:
    """An executable shell script ``folder/name`` (a stand-in for buildah)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path
