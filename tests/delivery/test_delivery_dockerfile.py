"""FROM lines read (never run) before a build, and the skip of an unconfigured build-image."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_delivery import context, fake_program, make_project

from secpipe.core.results import StepStatus
from secpipe.delivery.build_step import BuildImageSettings, BuildImageStep
from secpipe.delivery.dockerfile import (
    MAX_DOCKERFILE_BYTES,
    DockerfileError,
    missing_bases,
    parse_stages,
    read_stages,
)

MULTI = """# syntax=docker/dockerfile:1
FROM --platform=$BUILDPLATFORM python:3.11-slim AS Build
RUN echo hi \\
    # a comment inside the instruction
    && echo there
FROM build AS test
FROM scratch
COPY --from=build /x /x
from gcr.io/distroless/python3-debian12:nonroot
"""


def test_stages_names_and_external_bases() -> None:
    stages = parse_stages(MULTI)
    assert [(s.base, s.name, s.external) for s in stages] == [
        ("python:3.11-slim", "build", True), ("build", "test", False),
        ("scratch", None, False), ("gcr.io/distroless/python3-debian12:nonroot", None, True)]
    assert missing_bases(stages, first_given=True) == ["gcr.io/distroless/python3-debian12:nonroot"]
    assert len(missing_bases(stages, first_given=False)) == 2


def test_continuations_and_escape_directive() -> None:
    text = "# escape=`\nFROM `\n  debian:12 `\n  AS base\nRUN x\n"
    assert [(s.base, s.name) for s in parse_stages(text)] == [("debian:12", "base")]
    assert parse_stages("FROM \\\n  alpine\n")[0].base == "alpine"
    assert parse_stages("RUN echo FROM x\n# FROM y\n") == []


def test_read_is_bounded_and_text_only(tmp_path: Path) -> None:
    big = tmp_path / "Big"
    big.write_bytes(b"#" * (MAX_DOCKERFILE_BYTES + 1))
    with pytest.raises(DockerfileError, match="too large"):
        read_stages(big)
    binary = tmp_path / "Bin"
    binary.write_bytes(b"FROM \xff\xfe\n")
    with pytest.raises(DockerfileError, match="UTF-8"):
        read_stages(binary)
    with pytest.raises(DockerfileError, match="not a regular file"):
        read_stages(tmp_path)


def _run(root: Path, workdir: Path, settings: BuildImageSettings) -> tuple[StepStatus, str]:
    result = BuildImageStep().run(context(root, workdir), settings)
    return result.status, result.message


def test_unconfigured_step_skips_without_a_dockerfile(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    status, message = _run(root, tmp_path / "w", BuildImageSettings())
    assert status is StepStatus.SKIPPED and message.startswith("nothing found:")


def test_unconfigured_step_skips_when_a_base_would_have_to_be_pulled(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", dockerfile=MULTI)
    marker = tmp_path / "ran"
    fake = fake_program(tmp_path / "bin", "buildah", f"touch {marker}\n")
    status, message = _run(root, tmp_path / "w", BuildImageSettings())
    assert status is StepStatus.SKIPPED and message.startswith("not configured:")
    assert "python:3.11-slim" in message and "base: oci:" in message
    # configured, the same project is an error (and buildah never starts)
    status, message = _run(root, tmp_path / "w", BuildImageSettings(program=str(fake)))
    assert status is StepStatus.ERROR and "never pulls" in message
    status, message = _run(root, tmp_path / "w", BuildImageSettings(dockerfile="Nope"))
    assert status is StepStatus.ERROR and "dockerfile not found" in message
    assert not marker.exists()


def test_a_dockerfile_without_from_is_an_error(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", dockerfile="RUN true\n")
    status, message = _run(root, tmp_path / "w", BuildImageSettings(source_date_epoch=1))
    assert status is StepStatus.ERROR and "no FROM line" in message


def test_stages_after_the_target_need_no_base(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", dockerfile="FROM scratch AS out\nCOPY hello.txt /\n"
                        "FROM debian:12 AS later\n")
    fake = fake_program(tmp_path / "bin", "buildah", "echo boom >&2\nexit 3\n")
    status, message = _run(root, tmp_path / "w", BuildImageSettings(program=str(fake),
                                                                     target="out"))
    assert status is StepStatus.ERROR and "buildah bud exited with code 3: boom" in message
    status, message = _run(root, tmp_path / "w", BuildImageSettings(program=str(fake)))
    assert status is StepStatus.ERROR and "needs debian:12" in message
