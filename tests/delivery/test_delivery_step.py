"""The build-image step's errors, with stand-ins for buildah (no buildah needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_delivery import context, fake_program, make_project
from image_builders import build_oci_layout
from pydantic import ValidationError

from secpipe.core.registry import load_kind
from secpipe.core.results import StepStatus
from secpipe.delivery.build_step import BuildImageSettings, BuildImageStep


def _run(root: Path, workdir: Path, **settings: object) -> tuple[StepStatus, str]:
    result = BuildImageStep().run(context(root, workdir), BuildImageSettings(**settings))
    assert not result.artifacts or result.status is StepStatus.PASSED
    return result.status, result.message


def test_registered_as_build_image() -> None:
    assert load_kind("build-image") is BuildImageStep


def test_missing_buildah_names_the_package(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    status, message = _run(root, tmp_path / "w", program="no-such-buildah-here",
                           source_date_epoch=1)
    assert status is StepStatus.ERROR
    assert "buildah not found" in message and "apt-get install buildah" in message
    assert not (tmp_path / "w" / "tmp").exists() and not (tmp_path / "w" / "storage").exists()


def test_failing_build_reports_buildahs_last_lines(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    fake = fake_program(tmp_path / "bin", "buildah",
                        'echo "STEP 1/2: FROM scratch"\n'
                        'echo "Error: building at STEP \\"COPY nope /\\": no such file" >&2\n'
                        "exit 125\n")
    status, message = _run(root, tmp_path / "w", program=str(fake), source_date_epoch=1)
    assert status is StepStatus.ERROR
    assert "buildah bud exited with code 125" in message
    assert "no such file" in message
    assert not (tmp_path / "w" / "storage").exists()  # the build's store is removed


def test_a_hung_build_is_stopped_by_the_timeout(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    fake = fake_program(tmp_path / "bin", "buildah", "sleep 30\n")
    status, message = _run(root, tmp_path / "w", program=str(fake), source_date_epoch=1,
                           timeout=0.5)
    assert status is StepStatus.ERROR and "timed out" in message


def test_pull_without_an_image_id_is_an_error(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    build_oci_layout(root / "base", [{"a": b"1"}], ref_name="v1")
    fake = fake_program(tmp_path / "bin", "buildah", 'echo "not an id"\n')
    status, message = _run(root, tmp_path / "w", program=str(fake), base="oci:base:v1",
                           source_date_epoch=1)
    assert status is StepStatus.ERROR and "no image id" in message


def test_a_build_whose_output_is_missing_is_an_error(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    fake = fake_program(tmp_path / "bin", "buildah", "exit 0\n")  # claims success, writes nothing
    status, message = _run(root, tmp_path / "w", program=str(fake), source_date_epoch=1)
    assert status is StepStatus.ERROR and "cannot read" in message


def test_bad_base_fails_before_buildah_runs(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    marker = tmp_path / "ran"
    fake = fake_program(tmp_path / "bin", "buildah", f"touch {marker}\n")
    status, message = _run(root, tmp_path / "w", program=str(fake), base="oci:missing")
    assert status is StepStatus.ERROR and "not a folder" in message
    status, message = _run(root, tmp_path / "w", program=str(fake), base="docker://debian")
    assert status is StepStatus.ERROR and "never pulls" in message
    assert not marker.exists()


def test_missing_dockerfile_and_context(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    status, message = _run(root, tmp_path / "w", dockerfile="app/Dockerfile")
    assert status is StepStatus.ERROR and "dockerfile not found" in message
    status, message = _run(root, tmp_path / "w", context="nope")
    assert status is StepStatus.ERROR and "not a folder" in message


def test_a_symlinked_dockerfile_outside_the_project_is_refused(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    (tmp_path / "outside").write_text("FROM scratch\n")
    (root / "Evil").symlink_to(tmp_path / "outside")
    status, message = _run(root, tmp_path / "w", dockerfile="Evil")
    assert status is StepStatus.ERROR and "outside the project" in message


@pytest.mark.parametrize("settings", [
    {"dockerfile": "../Dockerfile"}, {"context": "/etc"}, {"tag": "Bad:Tag"},
    {"storage_driver": "btrfs"}, {"source_date_epoch": -1}, {"unknown": 1},
])
def test_settings_refuse(settings: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        BuildImageSettings(**settings)  # type: ignore[arg-type,unused-ignore]
