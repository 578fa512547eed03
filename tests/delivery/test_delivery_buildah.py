"""build-image with the real buildah: reproducible digests, a base from a local OCI layout, the
output readable by secpipe's image reader."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers_delivery import EPOCH, context, make_project
from image_builders import build_oci_layout

from secpipe.core.results import StepResult, StepStatus
from secpipe.delivery.build_step import BuildImageSettings, BuildImageStep
from secpipe.images import apply_layers, open_image

pytestmark = [pytest.mark.external,
              pytest.mark.skipif(shutil.which("buildah") is None,
                                 reason="buildah not installed (apt-get install buildah)")]


def _build(root: Path, workdir: Path, **settings: object) -> StepResult:
    result = BuildImageStep().run(context(root, workdir), BuildImageSettings(**settings))
    assert result.status is StepStatus.PASSED, result.message
    return result


def test_same_inputs_same_digest(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", {"hello.txt": b"hello\n", "app/main.py": b"print(1)\n"},
                        "FROM scratch\nCOPY hello.txt /hello.txt\nCOPY app /app\n"
                        'CMD ["/app/main.py"]\n')
    epochs = {"w1": EPOCH, "w2": EPOCH, "w3": EPOCH + 1}
    with ThreadPoolExecutor(3) as pool:  # three separate stores: the builds share nothing
        first, second, other = pool.map(
            lambda w: _build(root, tmp_path / w, tag="localhost/app:1",
                             source_date_epoch=epochs[w]), epochs)
    image1, image2 = first.artifacts[0], second.artifacts[0]
    assert image1.name == "image" and image1.digest.startswith("sha256:")
    assert image1.digest == image2.digest
    for result in (first, second):  # the oci-archive holds the same image (its tar wrapper
        with open_image(result.artifacts[1].path) as packed:  # carries the push time)
            assert packed.manifest_digest == image1.digest
    assert first.metrics["build_reproducible"] == 1.0
    assert other.artifacts[0].digest != image1.digest
    assert not (tmp_path / "w1" / "storage").exists()


def test_output_opens_with_open_image(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    result = _build(root, tmp_path / "w", tag="localhost/app:2.0", source_date_epoch=EPOCH)
    digest = result.artifacts[0].digest
    for where in (tmp_path / "w" / "layout", tmp_path / "w" / "image.tar"):
        with open_image(where, ref="2.0") as image:
            assert image.manifest_digest == digest
            assert image.format in ("oci-layout", "oci-archive")
            with apply_layers(image) as tree:
                assert tree.read_path("hello.txt") == b"hello\n"
                entry = tree.get("hello.txt")
                assert entry is not None


def _base_project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "p", dockerfile="FROM debian:12\n"
                        "COPY hello.txt /srv/hello.txt\n")
    build_oci_layout(root / "images" / "base",
                     [{"etc/os-release": b"ID=secpipe-test\n", "usr/lib/libfake.so": b"\x7fELF"}],
                     ref_name="bookworm")
    return root


def test_base_from_a_local_oci_layout(tmp_path: Path) -> None:
    root = _base_project(tmp_path)
    result = _build(root, tmp_path / "w1", base="oci:images/base:bookworm",
                    source_date_epoch=EPOCH)
    assert result.metrics["build_layers"] == 2.0
    assert "on oci:" in result.message
    with open_image(tmp_path / "w1" / "layout") as image, apply_layers(image) as tree:
        assert tree.read_path("etc/os-release") == b"ID=secpipe-test\n"
        assert tree.read_path("srv/hello.txt") == b"hello\n"


def test_base_under_a_dot_folder_and_upper_case_path(tmp_path: Path) -> None:
    # buildah names a pulled oci: image after its path; `.cache` or `Base` is no valid image
    # name ("invalid reference format"), so the step pulls through a link it removes after
    root = _base_project(tmp_path)
    hidden = root / ".cache" / "Base"
    hidden.parent.mkdir()
    (root / "images" / "base").rename(hidden)
    result = _build(root, tmp_path / "w1", base="oci:.cache/Base:bookworm",
                    source_date_epoch=EPOCH)
    assert result.metrics["build_layers"] == 2.0
    assert not list((tmp_path / "w1").rglob("secpipe-base-*"))
    with open_image(tmp_path / "w1" / "layout") as image, apply_layers(image) as tree:
        assert tree.read_path("etc/os-release") == b"ID=secpipe-test\n"


def test_base_build_is_reproducible(tmp_path: Path) -> None:
    root = _base_project(tmp_path)
    with ThreadPoolExecutor(2) as pool:  # two separate stores: the builds share nothing
        first, second = pool.map(
            lambda w: _build(root, tmp_path / w, base="oci:images/base:bookworm",
                             source_date_epoch=EPOCH), ["w1", "w2"])
    assert first.artifacts[0].digest == second.artifacts[0].digest


def test_layer_members_sorted_and_stamped(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", {"d/zz": b"1", "d/aa": b"2", "d/mm": b"3"},
                        "FROM scratch\nCOPY d /d\n")
    _build(root, tmp_path / "w", source_date_epoch=EPOCH)
    blobs = tmp_path / "w" / "layout" / "blobs" / "sha256"
    index = json.loads((tmp_path / "w" / "layout" / "index.json").read_bytes())
    manifest = json.loads((blobs / index["manifests"][0]["digest"][7:]).read_bytes())
    layer = gzip.decompress((blobs / manifest["layers"][0]["digest"][7:]).read_bytes())
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["d", "d/aa", "d/mm", "d/zz"]
    assert {m.mtime for m in members} == {EPOCH}


def test_a_failing_build_is_an_error_with_buildahs_words(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", dockerfile="FROM scratch\nCOPY missing.txt /x\n")
    result = BuildImageStep().run(context(root, tmp_path / "w"),
                                  BuildImageSettings(source_date_epoch=EPOCH))
    assert result.status is StepStatus.ERROR
    assert "buildah bud exited with code" in result.message
    assert "missing.txt" in result.message
    assert not result.artifacts


def test_a_base_the_dockerfile_needs_but_is_not_given_fails_without_pulling(
        tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", dockerfile="FROM docker.io/library/debian:12\n"
                        "COPY hello.txt /x\n")
    result = BuildImageStep().run(context(root, tmp_path / "w"),
                                  BuildImageSettings(source_date_epoch=EPOCH))
    assert result.status is StepStatus.ERROR
    assert "docker.io/library/debian:12" in result.message and "never pulls" in result.message
    assert "\n" not in result.message
