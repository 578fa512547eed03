"""open_image: formats, index selection, blob verification, hostile manifests."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from image_builders import (
    build_oci_layout,
    digest_of,
    docker_archive,
    docker_archive_id,
    layer_tar,
    nest_index,
    oci_archive,
    oci_archive_digest,
    overwrite_blob,
    read_blob,
    rewrite_manifest,
    set_index,
    tar_directory,
    write_blob,
)

from secpipe.core.errors import InputError
from secpipe.images import (
    BlobMismatch,
    ImageError,
    UnsupportedImage,
    apply_layers,
    open_image,
)

CONFIG = {"config": {"User": "app", "Env": ["A=1", "TOKEN=x"], "Labels": {"k": "v"},
                     "Cmd": ["python", "-m", "app"], "ExposedPorts": {"8080/tcp": {}}}}


def test_oci_layout_opens_with_config_and_layers(tmp_path: Path) -> None:
    digest = build_oci_layout(tmp_path, [{"a": b"1"}, {"b": b"2"}], CONFIG, ref_name="app:1")
    with open_image(tmp_path) as image:
        assert image.format == "oci-layout"
        assert image.manifest_digest == digest
        assert image.config.user == "app"
        assert image.config.env == ("A=1", "TOKEN=x")
        assert image.config.labels == {"k": "v"}
        assert image.config.cmd == ("python", "-m", "app")
        assert image.config.exposed_ports == ("8080/tcp",)
        assert image.config.platform == "linux/amd64"
        assert len(image.config.history) == 2
        assert [layer.compression for layer in image.layers] == ["gzip", "gzip"]
        assert image.layers[0].diff_id == digest_of(layer_tar({"a": b"1"}))
        assert image.ref_names == ("app:1",)


def test_oci_archive_and_docker_archive(tmp_path: Path) -> None:
    archive = oci_archive(tmp_path / "img.tar", [{"etc/x": b"1"}], CONFIG)
    with open_image(archive) as image:
        assert image.format == "oci-archive"
        assert image.manifest_digest == oci_archive_digest(archive)
        with apply_layers(image) as tree:
            assert tree.read_bytes(tree.get("etc/x")) == b"1"  # type: ignore[arg-type]
    saved = docker_archive(tmp_path / "d.tar", [{"etc/x": b"1"}, {"etc/y": b"2"}], CONFIG)
    with open_image(saved) as image:
        assert image.format == "docker-archive"
        assert image.manifest_digest is None
        assert image.config_digest == docker_archive_id(saved)
        assert image.ref_names == ("example:latest",)
        with apply_layers(image) as tree:
            assert {e.path for e in tree.files()} == {"etc/x", "etc/y"}


def test_docker_archive_gzip_layers_sniffed(tmp_path: Path) -> None:
    saved = docker_archive(tmp_path / "d.tar", [{"x": b"1"}], compression="gzip")
    with open_image(saved) as image, apply_layers(image) as tree:
        assert tree.get("x") is not None


def test_docker_media_types(tmp_path: Path) -> None:
    build_oci_layout(tmp_path, [{"x": b"1"}], docker_media_types=True)
    with open_image(tmp_path) as image, apply_layers(image) as tree:
        assert image.manifest is not None
        assert "docker" in image.manifest["mediaType"]
        assert tree.get("x") is not None


def test_uncompressed_layers(tmp_path: Path) -> None:
    build_oci_layout(tmp_path, [{"x": b"1"}], compression="none")
    with open_image(tmp_path) as image, apply_layers(image) as tree:
        assert image.layers[0].compression == "none"
        assert tree.get("x") is not None


def test_zstd_without_module_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("secpipe")
    try:
        import zstandard  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("zstandard installed: the error path cannot be shown")
    raw = layer_tar({"x": b"1"})
    build_oci_layout(tmp_path, [{"x": b"1"}], compression="none")
    # relabel the uncompressed layer as zstd: the reader must refuse before reading it
    digest = json.loads((tmp_path / "index.json").read_text())["manifests"][0]["digest"]

    def relabel(manifest: dict[str, Any]) -> None:
        manifest["layers"][0]["mediaType"] = "application/vnd.oci.image.layer.v1.tar+zstd"

    rewrite_manifest(tmp_path, digest, relabel)
    assert raw
    with open_image(tmp_path) as image, pytest.raises(UnsupportedImage, match="zstandard"):
        apply_layers(image)


def test_platform_selection_default_and_named(tmp_path: Path) -> None:
    arm = build_oci_layout(tmp_path, [{"arch": b"arm64"}], platform="linux/arm64")
    amd = build_oci_layout(tmp_path, [{"arch": b"amd64"}], platform="linux/amd64")
    with open_image(tmp_path) as image:
        assert image.manifest_digest == amd
    with open_image(tmp_path, platform="linux/arm64") as image:
        assert image.manifest_digest == arm
        with apply_layers(image) as tree:
            assert tree.read_bytes(tree.get("arch")) == b"arm64"  # type: ignore[arg-type]
    with pytest.raises(ImageError, match="no image for platform linux/s390x"):
        open_image(tmp_path, platform="linux/s390x")


def test_ref_name_and_digest_selection(tmp_path: Path) -> None:
    one = build_oci_layout(tmp_path, [{"n": b"1"}], ref_name="one")
    two = build_oci_layout(tmp_path, [{"n": b"2"}], ref_name="two")
    with open_image(tmp_path, ref="two") as image:
        assert image.manifest_digest == two
    with open_image(tmp_path, ref=one) as image:
        assert image.manifest_digest == one
    with pytest.raises(ImageError, match=r"no image named 'three'.*one, two"):
        open_image(tmp_path, ref="three")


def test_nested_index(tmp_path: Path) -> None:
    build_oci_layout(tmp_path, [{"a": b"arm"}], platform="linux/arm64")
    amd = build_oci_layout(tmp_path, [{"a": b"amd"}], platform="linux/amd64")
    nest_index(tmp_path, ref_name="multi:1")
    with open_image(tmp_path, ref="multi:1") as image:
        assert image.manifest_digest == amd
        assert image.ref_names == ("multi:1",)


def test_attestation_manifest_is_not_picked(tmp_path: Path) -> None:
    amd = build_oci_layout(tmp_path, [{"a": b"1"}])
    build_oci_layout(tmp_path, [{"b": b"1"}], platform="unknown/unknown")

    def mark(index: dict[str, Any]) -> None:
        index["manifests"][1]["annotations"] = {
            "vnd.docker.reference.type": "attestation-manifest"}

    set_index(tmp_path, mark)
    with open_image(tmp_path) as image:
        assert image.manifest_digest == amd


def test_manifest_blob_tampered_is_named(tmp_path: Path) -> None:
    digest = build_oci_layout(tmp_path, [{"a": b"1"}])
    manifest = json.loads(read_blob(tmp_path, digest))
    manifest["annotations"] = {"x": "y"}
    overwrite_blob(tmp_path, digest, json.dumps(manifest).encode())
    with pytest.raises(BlobMismatch, match=f"manifest {digest}"):
        open_image(tmp_path)


def test_layer_digest_mismatch_names_the_layer(tmp_path: Path) -> None:
    digest = build_oci_layout(tmp_path, [{"a": b"1"}, {"b": b"2"}], compression="none")
    layer = json.loads(read_blob(tmp_path, digest))["layers"][1]["digest"]
    evil = layer_tar({"b": b"3"})  # same size, other content
    overwrite_blob(tmp_path, layer, evil)
    with open_image(tmp_path) as image, pytest.raises(BlobMismatch, match=f"layer 1 .{layer}"):
        apply_layers(image)


def test_size_lie_is_an_error(tmp_path: Path) -> None:
    digest = build_oci_layout(tmp_path, [{"a": b"1" * 1000}], compression="none")

    def shrink(manifest: dict[str, Any]) -> None:
        manifest["layers"][0]["size"] = 100

    rewrite_manifest(tmp_path, digest, shrink)
    with open_image(tmp_path) as image, pytest.raises(BlobMismatch, match="layer 0"):
        apply_layers(image)

    def grow(manifest: dict[str, Any]) -> None:
        manifest["layers"][0]["size"] = 10**6

    digest = json.loads((tmp_path / "index.json").read_text())["manifests"][0]["digest"]
    rewrite_manifest(tmp_path, digest, grow)
    with open_image(tmp_path) as image, pytest.raises(BlobMismatch, match=r"declared|says"):
        apply_layers(image)


def test_diff_id_mismatch(tmp_path: Path) -> None:
    build_oci_layout(tmp_path, [{"a": b"1"}],
                     {"rootfs": {"type": "layers", "diff_ids": [digest_of(b"other")]}})
    with open_image(tmp_path) as image, pytest.raises(BlobMismatch, match="diff_id"):
        apply_layers(image)


def test_docker_archive_layer_swapped_fails_diff_id(tmp_path: Path) -> None:
    saved = docker_archive(tmp_path / "d.tar", [{"a": b"1"}])
    with tarfile.open(saved) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar if m.isreg()}  # type: ignore[union-attr]
    layer_name = next(n for n in members if n.endswith("layer.tar"))
    members[layer_name] = layer_tar({"a": b"2"})
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with open_image(evil) as image, pytest.raises(BlobMismatch, match="layer 0"):
        apply_layers(image)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "sha256:abc", "md5:" + "0" * 32])
def test_invalid_digest_never_becomes_a_path(tmp_path: Path, bad: str) -> None:
    build_oci_layout(tmp_path, [{"a": b"1"}])

    def poison(index: dict[str, Any]) -> None:
        index["manifests"][0]["digest"] = bad

    set_index(tmp_path, poison)
    with pytest.raises(ImageError, match="invalid digest"):
        open_image(tmp_path)


def test_missing_blob_and_bad_json(tmp_path: Path) -> None:
    digest = build_oci_layout(tmp_path, [{"a": b"1"}])
    (tmp_path / "blobs" / "sha256" / digest.split(":")[1]).unlink()
    with pytest.raises(ImageError, match="blob missing"):
        open_image(tmp_path)
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(ImageError, match="not valid JSON"):
        open_image(tmp_path)


def test_symlinked_blob_in_layout_is_refused(tmp_path: Path) -> None:
    digest = build_oci_layout(tmp_path / "img", [{"a": b"1"}])
    blob = tmp_path / "img" / "blobs" / "sha256" / digest.split(":")[1]
    outside = tmp_path / "outside"
    outside.write_bytes(blob.read_bytes())
    blob.unlink()
    blob.symlink_to(outside)
    with pytest.raises(ImageError, match="not a regular file"):
        open_image(tmp_path / "img")


def test_unsupported_media_types(tmp_path: Path) -> None:
    digest = build_oci_layout(tmp_path, [{"a": b"1"}])

    def helm(manifest: dict[str, Any]) -> None:
        manifest["config"]["mediaType"] = "application/vnd.cncf.helm.config.v1+json"

    rewrite_manifest(tmp_path, digest, helm)
    with pytest.raises(UnsupportedImage, match="helm"):
        open_image(tmp_path)


def test_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such"):
        open_image(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageError, match="not an OCI image layout"):
        open_image(tmp_path / "empty")
    (tmp_path / "junk.tar").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ImageError):
        open_image(tmp_path / "junk.tar")
    plain = tmp_path / "plain.tar"
    plain.write_bytes(layer_tar({"hello": b"x"}))
    with pytest.raises(ImageError, match="neither"):
        open_image(plain)


def test_truncated_oci_archive(tmp_path: Path) -> None:
    archive = oci_archive(tmp_path / "img.tar", [{"a": b"1" * 5000}], compression="none")
    data = archive.read_bytes()
    (tmp_path / "cut.tar").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError):
        image = open_image(tmp_path / "cut.tar")
        apply_layers(image)


def test_layer_count_must_match_diff_ids(tmp_path: Path) -> None:
    digest = build_oci_layout(tmp_path, [{"a": b"1"}, {"b": b"1"}])

    def drop(manifest: dict[str, Any]) -> None:
        manifest["layers"].pop()

    rewrite_manifest(tmp_path, digest, drop)
    with pytest.raises(ImageError, match="diff_ids"):
        open_image(tmp_path)


def test_tar_directory_roundtrip(tmp_path: Path) -> None:
    write_blob(tmp_path / "l", b"x")
    out = tar_directory(tmp_path / "l", tmp_path / "o.tar")
    with tarfile.open(out) as tar:
        assert tar.getnames() == ["blobs/sha256/" + digest_of(b"x").split(":")[1]]


def test_docker_save_with_oci_layout_inside(tmp_path: Path) -> None:
    """``docker save`` since Docker 25 writes an OCI layout plus the legacy manifest.json."""
    layout = tmp_path / "layout"
    digest = build_oci_layout(layout, [{"a": b"1"}], ref_name="app:2",
                              docker_media_types=True)
    manifest = json.loads(read_blob(layout, digest))
    legacy = [{"Config": "blobs/" + manifest["config"]["digest"].replace(":", "/"),
               "RepoTags": ["app:2"],
               "Layers": ["blobs/" + d["digest"].replace(":", "/") for d in manifest["layers"]]}]
    (layout / "manifest.json").write_text(json.dumps(legacy))
    saved = tar_directory(layout, tmp_path / "saved.tar")
    with open_image(saved) as image, apply_layers(image) as tree:
        assert image.format == "docker-archive"
        assert image.manifest_digest == digest
        assert tree.get("a") is not None


def test_docker_archive_with_two_images_by_tag(tmp_path: Path) -> None:
    first = docker_archive(tmp_path / "1.tar", [{"n": b"one"}], repo_tags=["app:1"])
    second = docker_archive(tmp_path / "2.tar", [{"n": b"two"}], repo_tags=["app:2"])
    members: dict[str, bytes] = {}
    entries: list[Any] = []
    for archive in (first, second):
        with tarfile.open(archive) as tar:
            for info in tar:
                data = tar.extractfile(info).read()  # type: ignore[union-attr]
                if info.name == "manifest.json":
                    entries += json.loads(data)
                else:
                    members[info.name] = data
    members["manifest.json"] = json.dumps(entries).encode()
    both = tmp_path / "both.tar"
    with tarfile.open(both, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with open_image(both, ref="app:2") as image, apply_layers(image) as tree:
        assert image.ref_names == ("app:2",)
        assert tree.read_path("n") == b"two"
    with open_image(both) as image, apply_layers(image) as tree:
        assert tree.read_path("n") == b"one"
    with pytest.raises(ImageError, match="no image tagged 'app:3'"):
        open_image(both, ref="app:3")
