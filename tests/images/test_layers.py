"""apply_layers: whiteouts, opaque dirs, deleted files, hostile members, bounds, truncation."""

from __future__ import annotations

import io
import json
import sys
import tarfile
import threading
import types
from pathlib import Path

import pytest
from image_builders import (
    Member,
    build_oci_layout,
    directory,
    hardlink,
    layer_tar,
    overwrite_blob,
    read_blob,
    rewrite_manifest,
    symlink,
    write_blob,
)

from secpipe.images import (
    ImageBomb,
    ImageError,
    LayerError,
    Limits,
    SymlinkLoop,
    apply_layers,
    export_files,
    open_image,
)
from secpipe.images.layers import FileTree, normalize_member_name


def _tree(tmp_path: Path, layers: list, config: dict | None = None,  # type: ignore[type-arg]
          **options: object) -> FileTree:
    build_oci_layout(tmp_path, layers, config, **options)  # type: ignore[arg-type]
    image = open_image(tmp_path)
    try:
        return apply_layers(image)
    finally:
        image.close()


def _content(tree: FileTree, path: str) -> bytes:
    entry = tree.get(path)
    assert entry is not None, path
    return tree.read_bytes(entry)


def test_files_dirs_links_and_owners(tmp_path: Path) -> None:
    with _tree(tmp_path, [{
        "etc/": directory(),
        "etc/passwd": Member(data=b"root:x:0:0", mode=0o600, uid=0, gid=42),
        "usr/bin/tool": Member(data=b"#!/bin/sh", mode=0o4755, uid=1000, gid=1000),
        "bin": symlink("usr/bin"),
        "usr/bin/tool2": hardlink("usr/bin/tool"),
        "dev/null": Member(kind="char", devmajor=1, devminor=3),
        "run/fifo": Member(kind="fifo"),
    }]) as tree:
        passwd = tree.get("/etc/passwd")
        assert passwd is not None
        assert (passwd.type, passwd.mode, passwd.gid, passwd.layer) == ("file", 0o600, 42, 0)
        assert tree.get("usr/bin/tool").mode == 0o4755  # type: ignore[union-attr]
        assert tree.get("usr").implicit  # type: ignore[union-attr]
        assert _content(tree, "usr/bin/tool2") == b"#!/bin/sh"
        assert tree.resolve("bin/tool") == tree.get("usr/bin/tool")
        assert tree.get("dev/null").type == "char"  # type: ignore[union-attr]
        assert tree.get("run/fifo").type == "fifo"  # type: ignore[union-attr]
        assert any("device" in h.reason for h in tree.hostile)
        assert tree.listdir("usr/bin") == ["usr/bin/tool", "usr/bin/tool2"]
        assert {e.path for e in tree.files()} == {"etc/passwd", "usr/bin/tool", "usr/bin/tool2"}


def test_whiteout_removes_file_and_tracks_it(tmp_path: Path) -> None:
    with _tree(tmp_path, [
        {"app/.env": b"AWS_SECRET=abc", "app/main.py": b"print()"},
        {"app/.wh..env": b""},
    ]) as tree:
        assert tree.get("app/.env") is None
        assert tree.get("app/.wh..env") is None
        assert tree.get("app/main.py") is not None
        [gone] = tree.deleted
        assert (gone.entry.path, gone.entry.layer, gone.deleted_in, gone.reason) == (
            "app/.env", 0, 1, "whiteout")
        assert tree.read_bytes(gone.entry) == b"AWS_SECRET=abc"


def test_whiteout_of_directory_removes_subtree(tmp_path: Path) -> None:
    with _tree(tmp_path, [
        {"keys/a/id_rsa": b"k1", "keys/b": b"k2", "other": b"o"},
        {".wh.keys": b""},
    ]) as tree:
        assert tree.get("keys") is None and tree.get("keys/a/id_rsa") is None
        assert sorted(d.entry.path for d in tree.deleted) == ["keys/a/id_rsa", "keys/b"]
        assert tree.listdir("") == ["other"]


def test_whiteout_only_hits_lower_layers(tmp_path: Path) -> None:
    # the same layer re-adds the path after (or before) whiting it out: it stays
    with _tree(tmp_path, [
        {"d/f": b"old"},
        {"d/f": b"new", "d/.wh.f": b""},
    ]) as tree:
        assert _content(tree, "d/f") == b"new"
        assert [(d.entry.layer, d.reason) for d in tree.deleted] == [(0, "replaced")]


def test_opaque_directory(tmp_path: Path) -> None:
    with _tree(tmp_path, [
        {"etc/app/old.conf": b"password=1", "etc/app/sub/x": b"x", "etc/other": b"o"},
        {"etc/app/": directory(), "etc/app/.wh..wh..opq": b"", "etc/app/new.conf": b"n"},
    ]) as tree:
        assert tree.listdir("etc/app") == ["etc/app/new.conf"]
        assert tree.get("etc/other") is not None
        assert sorted((d.entry.path, d.reason) for d in tree.deleted) == [
            ("etc/app/old.conf", "opaque"), ("etc/app/sub/x", "opaque")]


def test_opaque_marker_before_same_layer_files(tmp_path: Path) -> None:
    with _tree(tmp_path, [
        {"d/old": b"1"},
        {"d/new": b"2", "d/.wh..wh..opq": b""},
    ]) as tree:
        assert tree.listdir("d") == ["d/new"]


def test_replacing_a_directory_with_a_file(tmp_path: Path) -> None:
    with _tree(tmp_path, [{"cfg/a": b"1"}, {"cfg": b"flat"}]) as tree:
        assert tree.get("cfg").type == "file"  # type: ignore[union-attr]
        assert tree.get("cfg/a") is None
        assert [d.entry.path for d in tree.deleted] == ["cfg/a"]


def test_aufs_metadata_whiteouts_ignored(tmp_path: Path) -> None:
    with _tree(tmp_path, [{"a": b"1"}, {".wh..wh.plnk/x": b"", ".wh..wh.aufs": b""}]) as tree:
        assert tree.get("a") is not None
        assert not tree.deleted


@pytest.mark.parametrize(("name", "reason"), [
    ("../../etc/cron.d/x", "parent reference"),
    ("a/../../x", "parent reference"),
    ("/etc/shadow", "absolute"),
])
def test_traversal_names_are_recorded_and_skipped(tmp_path: Path, name: str,
                                                  reason: str) -> None:
    with _tree(tmp_path, [{name: b"evil", "ok": b"fine"}]) as tree:
        assert [e.path for e in tree] == ["ok"]
        [hostile] = tree.hostile
        assert hostile.name == name and reason in hostile.reason and hostile.layer == 0


def test_nul_and_hardlink_outside(tmp_path: Path) -> None:
    assert normalize_member_name("./a//b/./c/") == "a/b/c"
    with pytest.raises(ValueError, match="NUL"):
        normalize_member_name("a\x00b")
    with pytest.raises(ValueError, match="longer"):
        normalize_member_name("a" * 50, Limits(max_path_length=10))
    with pytest.raises(ValueError, match="deeper"):
        normalize_member_name("a/" * 20 + "b", Limits(max_depth=5))
    with _tree(tmp_path, [{"h": hardlink("../../etc/shadow"), "g": hardlink("missing")}]) as t:
        reasons = sorted(h.reason for h in t.hostile)
        assert reasons[0].startswith("hardlink target: parent reference")
        assert reasons[1].startswith("hardlink to a missing file")


def test_symlinks_stay_inside_the_tree(tmp_path: Path) -> None:
    with _tree(tmp_path, [{
        "etc/passwd": b"image passwd",
        "escape": symlink("../../../../etc/passwd"),
        "abs": symlink("/etc/passwd"),
        "dangling": symlink("/nope"),
    }]) as tree:
        assert tree.realpath("escape") == "etc/passwd"  # .. stops at the image root
        assert _content(tree, tree.realpath("abs")) == b"image passwd"
        assert tree.resolve("dangling") is None
        assert tree.resolve("abs", follow_last=False).type == "symlink"  # type: ignore[union-attr]
        assert any("outside the image root" in h.reason for h in tree.hostile)


def test_symlink_loop(tmp_path: Path) -> None:
    with _tree(tmp_path, [{"a": symlink("b"), "b": symlink("a"),
                           "self": symlink("self/x")}]) as tree:
        with pytest.raises(SymlinkLoop):
            tree.realpath("a")
        with pytest.raises(SymlinkLoop):
            tree.resolve("self")


def test_symlink_loop_in_a_member_parent_is_hostile_not_fatal(tmp_path: Path) -> None:
    with _tree(tmp_path, [{"a": symlink("b"), "b": symlink("a")}, {"a/x": b"1"}]) as tree:
        assert any("loop" in h.reason for h in tree.hostile)


def test_member_through_symlinked_parent_lands_inside(tmp_path: Path) -> None:
    with _tree(tmp_path, [{"lib": symlink("/usr/lib"), "usr/lib/": directory()},
                          {"lib/evil.so": b"x", "up": symlink("../../.."),
                           "up2": directory()},
                          {"up/tmp/x": b"y"}]) as tree:
        assert _content(tree, "usr/lib/evil.so") == b"x"
        assert _content(tree, "tmp/x") == b"y"  # the link to ../../.. stops at the root
        assert any("symlinked parent" in h.reason for h in tree.hostile)


def test_layer_bomb_is_bounded(tmp_path: Path) -> None:
    big = b"\x00" * (3 * 1024 * 1024)
    build_oci_layout(tmp_path, [{"bomb": big}])
    with open_image(tmp_path) as image:
        assert image.layers[0].size is not None and image.layers[0].size < 10_000
        with pytest.raises(ImageBomb, match=r"layer 0 .*bomb"):
            apply_layers(image, limits=Limits(max_total_bytes=1024 * 1024))


def test_member_count_bound(tmp_path: Path) -> None:
    build_oci_layout(tmp_path, [{f"f{i}": b"" for i in range(50)}])
    with open_image(tmp_path) as image:
        with pytest.raises(ImageBomb, match="more than 10 members"):
            apply_layers(image, limits=Limits(max_members_per_layer=10))
        with pytest.raises(ImageBomb, match="more than 20 members"):
            apply_layers(image, limits=Limits(max_total_members=20))


def test_cancel(tmp_path: Path) -> None:
    build_oci_layout(tmp_path, [{"a": b"1"}])
    cancel = threading.Event()
    cancel.set()
    with open_image(tmp_path) as image, pytest.raises(LayerError, match="cancelled"):
        apply_layers(image, cancel=cancel)


def test_truncated_gzip_layer_names_the_layer(tmp_path: Path) -> None:
    digest = build_oci_layout(tmp_path, [{"a": b"x" * 100_000}])
    layer = json.loads(read_blob(tmp_path, digest))["layers"][0]
    blob = read_blob(tmp_path, layer["digest"])
    # the descriptor must agree with the cut bytes, else the size check fires first
    cut_digest, cut_size = write_blob(tmp_path, blob[: len(blob) // 2])

    def point(manifest: dict) -> None:  # type: ignore[type-arg]
        manifest["layers"][0].update(digest=cut_digest, size=cut_size)

    rewrite_manifest(tmp_path, digest, point)
    with open_image(tmp_path) as image, pytest.raises(LayerError, match=f"layer 0 .{cut_digest}"):
        apply_layers(image)


def test_garbage_gzip_layer(tmp_path: Path) -> None:
    digest = build_oci_layout(tmp_path, [{"a": b"1"}])
    layer = json.loads(read_blob(tmp_path, digest))["layers"][0]["digest"]
    junk_digest, junk_size = write_blob(tmp_path, b"\x1f\x8bnot really gzip at all")

    def point(manifest: dict) -> None:  # type: ignore[type-arg]
        manifest["layers"][0].update(digest=junk_digest, size=junk_size)

    rewrite_manifest(tmp_path, digest, point)
    assert layer != junk_digest
    with open_image(tmp_path) as image, pytest.raises(LayerError, match="corrupt"):
        apply_layers(image)


def test_truncated_tar_layer(tmp_path: Path) -> None:
    raw = layer_tar({"a": b"x" * 10_000, "b": b"y"})
    cut = raw[:5000]
    build_oci_layout(tmp_path, [cut], {"rootfs": {"type": "layers", "diff_ids": []}},
                     compression="none")
    with open_image(tmp_path) as image, pytest.raises(LayerError, match="layer 0"):
        apply_layers(image)


def test_truncated_tar_inside_gzip(tmp_path: Path) -> None:
    raw = layer_tar({"a": b"x" * 10_000})[:3000]  # gzip of a cut tar: gzip is whole
    build_oci_layout(tmp_path, [raw], {"rootfs": {"type": "layers", "diff_ids": []}})
    with open_image(tmp_path) as image, pytest.raises(LayerError, match="truncated"):
        apply_layers(image)


def test_unknown_member_type_is_hostile(tmp_path: Path) -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("weird")
        info.type = b"V"  # a GNU volume header
        tar.addfile(info)
        ok = tarfile.TarInfo("ok")
        tar.addfile(ok)
    with _tree(tmp_path, [out.getvalue()]) as tree:
        assert tree.get("ok") is not None
        assert any("unsupported member type" in h.reason for h in tree.hostile)


def test_deleted_content_readable_after_overwrite_and_spool_closed(tmp_path: Path) -> None:
    tree = _tree(tmp_path, [{"s": b"secret-1"}, {"s": b"public"}])
    [old] = tree.deleted
    assert (old.reason, tree.read_bytes(old.entry)) == ("replaced", b"secret-1")
    with tree.open(tree.get("s")) as stream:  # type: ignore[arg-type]
        stream.seek(2)
        assert stream.read() == b"blic"
    with pytest.raises(Exception, match="limit"):
        tree.read_bytes(tree.get("s"), limit=2)  # type: ignore[arg-type]
    tree.close()


def test_bound_overwritten_blob(tmp_path: Path) -> None:
    digest = build_oci_layout(tmp_path, [{"a": b"1"}], compression="none")
    layer = json.loads(read_blob(tmp_path, digest))["layers"][0]["digest"]
    overwrite_blob(tmp_path, layer, b"")
    with open_image(tmp_path) as image, pytest.raises(ImageError, match="layer 0"):
        apply_layers(image)


def test_huge_pax_header_is_refused_before_it_is_read(tmp_path: Path) -> None:
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = 4 * 1024 * 1024
    raw = header.tobuf(format=tarfile.USTAR_FORMAT) + b"\x00" * header.size + b"\x00" * 1024
    with _tree(tmp_path, [{"ok": b"1"}]) as tree:
        assert tree.get("ok") is not None
    layout = tmp_path / "evil"
    build_oci_layout(layout, [raw], {"rootfs": {"type": "layers", "diff_ids": []}})
    with open_image(layout) as image, pytest.raises(ImageError, match="extended header"):
        apply_layers(image)


def test_read_path_and_under(tmp_path: Path) -> None:
    with _tree(tmp_path, [{"var/lib/dpkg/status": b"Package: a\n",
                           "var/lib/dpkg/info/a.list": b"/x\n",
                           "status": symlink("/var/lib/dpkg/status"),
                           "var/lib/dpkg/lnk": symlink("info")}]) as tree:
        assert tree.read_path("status") == b"Package: a\n"
        assert tree.read_path("var/lib/dpkg") is None
        assert tree.read_path("nope") is None
        assert [e.path for e in tree.under("var/lib/dpkg")] == [
            "var/lib/dpkg/info", "var/lib/dpkg/info/a.list", "var/lib/dpkg/lnk",
            "var/lib/dpkg/status"]


def test_export_files_stays_in_dest(tmp_path: Path) -> None:
    with _tree(tmp_path / "img", [{"app/key.pem": b"-----BEGIN", "app/link": symlink("/etc"),
                                   "dev/sda": Member(kind="block")},
                                  {"app/.wh.key.pem": b""}]) as tree:
        dest = tmp_path / "out"
        dest.mkdir()
        written = export_files(tree, tree.files(), dest)
        assert written == {}  # the only file was deleted
        gone = tmp_path / "gone"
        gone.mkdir()
        (gone / "app").symlink_to(tmp_path / "elsewhere")  # a trap already in dest
        assert export_files(tree, [d.entry for d in tree.deleted], gone) == {}
        assert not (tmp_path / "elsewhere").exists()
        fresh = tmp_path / "fresh"
        fresh.mkdir()
        out = export_files(tree, [d.entry for d in tree.deleted], fresh)
        assert [Path(p).read_bytes() for p in out] == [b"-----BEGIN"]
        with pytest.raises(ImageError, match="over 3 bytes"):
            export_files(tree, [d.entry for d in tree.deleted], tmp_path, max_bytes=3)


def test_time_bound(tmp_path: Path) -> None:
    build_oci_layout(tmp_path, [{"a": b"1" * 100_000}])
    with open_image(tmp_path) as image, pytest.raises(LayerError, match="time bound"):
        apply_layers(image, limits=Limits(max_seconds=-1.0))


def test_long_symlink_target_is_hostile(tmp_path: Path) -> None:
    with _tree(tmp_path, [{"l": symlink("a/" * 3000)}]) as tree:
        assert tree.get("l") is None
        assert "symlink target longer" in tree.hostile[0].reason


def test_zstd_layers_go_through_zstandard(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The zstd path, with a stand-in module (identity "decompression") in place of zstandard."""
    calls: list[bool] = []

    class Decompressor:
        def stream_reader(self, raw: object, read_across_frames: bool) -> object:
            calls.append(read_across_frames)
            return raw

    monkeypatch.setitem(sys.modules, "zstandard",
                        types.SimpleNamespace(ZstdDecompressor=Decompressor))
    digest = build_oci_layout(tmp_path, [{"z": b"zz"}], compression="none")

    def relabel(manifest: dict) -> None:  # type: ignore[type-arg]
        manifest["layers"][0]["mediaType"] = "application/vnd.oci.image.layer.v1.tar+zstd"

    rewrite_manifest(tmp_path, digest, relabel)
    with open_image(tmp_path) as image, apply_layers(image) as tree:
        assert image.layers[0].compression == "zstd"
        assert tree.read_path("z") == b"zz"
    assert calls == [True]


def test_zero_byte_layer_is_empty_and_stats(tmp_path: Path) -> None:
    with _tree(tmp_path, [b"", {"a": b"12345"}],
               {"rootfs": {"type": "layers", "diff_ids": []}}) as tree:
        assert [e.path for e in tree] == ["a"]
        assert [(s.index, s.members) for s in tree.layer_stats] == [(0, 0), (1, 1)]
        assert tree.layer_stats[1].uncompressed_bytes == len(layer_tar({"a": b"12345"}))


def test_oci_archive_member_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from image_builders import oci_archive

    from secpipe.images import layout

    archive = oci_archive(tmp_path / "img.tar", [{"a": b"1"}, {"b": b"2"}])
    monkeypatch.setattr(layout, "MAX_ARCHIVE_MEMBERS", 3)
    with pytest.raises(ImageError, match="more than 3 members"):
        open_image(archive)
