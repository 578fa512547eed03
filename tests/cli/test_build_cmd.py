"""``secpipe build``: the build-image step on the project, settings from ``defaults.build-image``
overridden by the command line; exit 0 built, 2 when nothing could be built."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from secpipe.cli.main import main
from secpipe.images.layout import open_image

EPOCH = "1700000000"


def _project(root: Path, dockerfile: str = "FROM scratch\nCOPY hello.txt /hello.txt\n",
             config: str = "version: 1\n") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    (root / "hello.txt").write_text("hello\n")
    (root / "secpipe.yaml").write_text(config)
    return root


@pytest.mark.skipif(shutil.which("buildah") is None, reason="buildah is not installed")
def test_build_writes_layout_and_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    root = _project(tmp_path / "p", config="version: 1\ndefaults:\n  build-image:\n"
                    "    tag: localhost/from-defaults:2\n")
    assert main(["build", "-C", str(root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["built"] is True and "localhost/from-defaults:2" in out["message"]
    image = next(a for a in out["artifacts"] if a["name"] == "image")
    assert Path(image["path"]) == (root / ".secpipe" / "build" / "layout").resolve()
    with open_image(Path(image["path"])) as opened:
        assert opened.manifest_digest == image["digest"]
    assert main(["build", "-C", str(root), "--tag", "localhost/cli:3", "--output",
                 str(tmp_path / "out")]) == 0
    text = capsys.readouterr().out
    assert "built localhost/cli:3" in text and str(tmp_path / "out" / "image.tar") in text


def test_build_without_a_local_base_is_exit_2(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p", dockerfile="FROM python:3.11-slim\nCOPY hello.txt /\n")
    assert main(["build", "-C", str(root)]) == 2
    err = capsys.readouterr().err
    assert "python:3.11-slim" in err and "never pulls" in err


def test_bad_options_are_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    assert main(["build", "-C", str(root), "--build-arg", "NOEQUALS"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err
    assert main(["build", "-C", str(root), "--tag", "Bad Name"]) == 2
    assert main(["build", "-C", str(root), "--dockerfile", "../outside"]) == 2
