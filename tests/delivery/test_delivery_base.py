"""The base: setting of build-image: spellings, and the layout checked before buildah runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_delivery import make_project  # noqa: F401  (puts image_builders on the path)
from image_builders import build_oci_layout, docker_archive, oci_archive, set_index

from secpipe.core.errors import InputError
from secpipe.delivery.base_image import BaseImage, BaseImageError, check_base, parse_base


def test_none_means_no_base(tmp_path: Path) -> None:
    assert parse_base("none", tmp_path) is None
    assert parse_base("  ", tmp_path) is None


def test_oci_path_and_ref(tmp_path: Path) -> None:
    base = parse_base("oci:images/base:bookworm", tmp_path)
    assert base == BaseImage("oci", (tmp_path / "images/base").resolve(), "bookworm")
    assert base.transport == f"oci:{(tmp_path / 'images/base').resolve()}:bookworm"
    plain = parse_base("oci:/abs/layout", tmp_path)
    assert plain == BaseImage("oci", Path("/abs/layout"), None)
    archive = parse_base("oci-archive:base.tar:1.0", tmp_path)
    assert archive is not None and archive.kind == "oci-archive" and archive.ref == "1.0"


def test_a_colon_followed_by_a_path_is_part_of_the_path(tmp_path: Path) -> None:
    base = parse_base("oci:/x:y/layout", tmp_path)
    assert base == BaseImage("oci", Path("/x:y/layout"), None)


@pytest.mark.parametrize("spec", ["docker://debian:12", "debian:12", "oci:", "registry:x",
                                  "oci:/a\x00b", "oci:" + "a" * 5000])
def test_bad_spellings_are_input_errors(tmp_path: Path, spec: str) -> None:
    with pytest.raises(BaseImageError) as info:
        parse_base(spec, tmp_path)
    assert isinstance(info.value, InputError)


def test_check_opens_a_layout(tmp_path: Path) -> None:
    layout = tmp_path / "base"
    digest = build_oci_layout(layout, [{"etc/os-release": b"ID=test\n"}], ref_name="v1")
    checked = check_base(BaseImage("oci", layout, "v1"))
    assert checked.manifest_digest == digest
    assert checked.layers == 1 and checked.platform == "linux/amd64"


def test_check_opens_an_oci_archive(tmp_path: Path) -> None:
    tar = oci_archive(tmp_path / "base.tar", [{"a": b"1"}], ref_name="v1")
    assert check_base(BaseImage("oci-archive", tar, "v1")).layers == 1


def test_missing_base_is_clear(tmp_path: Path) -> None:
    with pytest.raises(BaseImageError, match="not a folder"):
        check_base(BaseImage("oci", tmp_path / "nope", None))
    with pytest.raises(BaseImageError, match="not a file"):
        check_base(BaseImage("oci-archive", tmp_path / "nope.tar", None))


def test_unknown_ref_and_malformed_index(tmp_path: Path) -> None:
    layout = tmp_path / "base"
    build_oci_layout(layout, [{"a": b"1"}], ref_name="v1")
    with pytest.raises(BaseImageError, match="base image oci:"):
        check_base(BaseImage("oci", layout, "v2"))
    set_index(layout, lambda index: index.update(manifests="not a list"))
    with pytest.raises(BaseImageError):
        check_base(BaseImage("oci", layout, None))
    (layout / "index.json").write_bytes(b"{truncated")
    with pytest.raises(BaseImageError):
        check_base(BaseImage("oci", layout, None))


def test_docker_archive_is_refused(tmp_path: Path) -> None:
    tar = docker_archive(tmp_path / "d.tar", [{"a": b"1"}])
    with pytest.raises(BaseImageError, match=r"docker-archive|oci-archive"):
        check_base(BaseImage("oci-archive", tar, None))


def test_nameable_paths_and_pullable_link(tmp_path: Path) -> None:
    from secpipe.delivery.base_image import nameable, pullable_link

    assert nameable(Path("/tmp/pytest-of-root/p0/images/base"))
    assert not nameable(Path("/root/.cache/secpipe/base"))
    assert not nameable(Path("/home/Alice/base"))
    assert not nameable(Path("/srv/my base"))
    target = tmp_path / ".hidden" / "Base"
    target.mkdir(parents=True)
    base = BaseImage(kind="oci", path=target, ref="bookworm")
    link = pullable_link(base, tmp_path / ".scratch")
    try:
        assert link != target and nameable(link)
        assert link.resolve() == target.resolve()
        assert base.transport_at(link) == f"oci:{link}:bookworm"
    finally:
        link.unlink()
        link.parent.rmdir()


def test_pullable_links_are_always_nameable(tmp_path: Path) -> None:
    # mkdtemp's alphabet holds "_", which an image name may not end with: never used
    from secpipe.delivery.base_image import nameable, pullable_link

    target = tmp_path / ".hidden" / "Base"
    target.mkdir(parents=True)
    base = BaseImage(kind="oci", path=target, ref=None)
    for _ in range(200):
        link = pullable_link(base, tmp_path / ".scratch")
        assert nameable(link)
        link.unlink()
        link.parent.rmdir()
