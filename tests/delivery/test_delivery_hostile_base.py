"""Hostile base images are refused by secpipe's reader before buildah unpacks them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers_delivery import context, fake_program, make_project
from image_builders import Member, build_oci_layout, layer_tar, overwrite_blob, symlink

from secpipe.core.results import StepStatus
from secpipe.delivery.base_image import BaseImage, BaseImageError, check_base
from secpipe.delivery.build_step import BuildImageSettings, BuildImageStep


def _layout(tmp_path: Path, layer: dict[str, bytes | Member] | bytes) -> Path:
    build_oci_layout(tmp_path / "base", [{"etc/os-release": b"ID=t\n"}, layer], ref_name="v1")
    return tmp_path / "base"


@pytest.mark.parametrize(("layer", "reason"), [
    ({"../../etc/cron.d/evil": b"* * * * * root sh\n"}, ""),
    ({"dev/sda": Member(kind="block", devmajor=8, devminor=0)}, "block device"),
    ({"usr/lib/x": symlink("../../../../../../host/etc")}, "outside the image root"),
    ({"bin/sh": Member(kind="hardlink", target="nowhere")}, "missing file"),
])
def test_hostile_members_are_refused(tmp_path: Path, layer: dict[str, bytes | Member],
                                     reason: str) -> None:
    base = BaseImage("oci", _layout(tmp_path, layer), "v1")
    check_base(base)  # the shallow check (index, manifest, config) does not read layers
    with pytest.raises(BaseImageError, match="hostile layer member") as info:
        check_base(base, layers=True, spool_dir=tmp_path)
    assert reason in info.value.message


def test_a_layer_whose_bytes_lie_is_refused(tmp_path: Path) -> None:
    layout = _layout(tmp_path, {"a": b"1"})
    index = json.loads((layout / "index.json").read_bytes())
    manifest_hex = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs" / "sha256" / manifest_hex).read_bytes())
    overwrite_blob(layout, manifest["layers"][1]["digest"], b"\x1f\x8b not the layer")
    with pytest.raises(BaseImageError, match="base image oci:"):
        check_base(BaseImage("oci", layout, "v1"), layers=True, spool_dir=tmp_path)


def test_a_layer_bomb_is_refused_within_the_bound(tmp_path: Path) -> None:
    layout = _layout(tmp_path, {"big": b"\0" * (1 << 20)})
    with pytest.raises(BaseImageError):
        check_base(BaseImage("oci", layout, "v1"), layers=True, spool_dir=tmp_path,
                   max_bytes=64 * 1024)


def test_a_truncated_layer_is_refused(tmp_path: Path) -> None:
    layout = _layout(tmp_path, layer_tar({"f": b"x" * 5000})[:1000])
    with pytest.raises(BaseImageError):
        check_base(BaseImage("oci", layout, "v1"), layers=True, spool_dir=tmp_path)


def test_the_step_refuses_a_hostile_base_before_buildah_starts(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", dockerfile="FROM base\nCOPY hello.txt /x\n")
    build_oci_layout(root / "base", [{"../escape": b"x"}], ref_name="v1")
    marker = tmp_path / "ran"
    fake = fake_program(tmp_path / "bin", "buildah", f"touch {marker}\n")
    result = BuildImageStep().run(context(root, tmp_path / "w"), BuildImageSettings(
        program=str(fake), base="oci:base:v1", source_date_epoch=1))
    assert result.status is StepStatus.ERROR and "hostile" in result.message
    assert not marker.exists()
    assert not (tmp_path / "w" / "tmp").exists()
