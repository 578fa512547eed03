"""apply_layers(keep=...): only the selected files' bytes are spooled; everything else the same.

Also the zlib-based gzip reader of the layers and the inventory's ``keep`` predicate.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import zlib
from pathlib import Path

import pytest
from image_builders import (
    Member,
    build_oci_layout,
    directory,
    hardlink,
    read_blob,
    rewrite_manifest,
    symlink,
    write_blob,
)
from test_inventory import DEBIAN_OS, STATUS, debian_fs
from test_inventory_fs import DictFs, rpm_package, rpmdb_sqlite

from secpipe.images import ImageBomb, ImageError, LayerError, Limits, apply_layers, open_image
from secpipe.images.inventory import inventory, wanted_for_inventory
from secpipe.images.layers import ContentNotKept, FileTree, _Gunzip
from secpipe.images.layout import BlobMismatch
from secpipe.images.pkg_filetree import FileTreeView

SITE = "usr/lib/python3/dist-packages"
BIG = bytes(random.Random(14).getrandbits(8) for _ in range(200_000))

BASE: dict[str, bytes | Member] = {
    "usr/": directory(),
    "usr/lib/os-release": DEBIAN_OS,
    "etc/os-release": symlink("../usr/lib/os-release"),
    "lib": symlink("usr/lib"),
    "var/lib/dpkg/status": STATUS,
    "var/lib/dpkg/info/libc6:amd64.list": b"/.\n/usr/lib/x86_64-linux-gnu/libc.so.6\n",
    "var/lib/dpkg/info/libc6:amd64.md5sums": b"abc  usr/lib/x86_64-linux-gnu/libc.so.6\n",
    "usr/share/doc/libc6/copyright": b"Format: https://www.debian.org/doc/packaging-manuals/"
                                     b"copyright-format/1.0/\n\nFiles: *\nLicense: MIT\n",
    "usr/share/doc/libc6/changelog.Debian.gz": gzip.compress(b"glibc (2.36-9) x; urgency=low\n",
                                                             mtime=0),
    "usr/lib/x86_64-linux-gnu/libc.so.6": BIG,
    f"{SITE}/a-1.dist-info/METADATA": b"Name: a\nVersion: 1\nLicense: MIT\n",
    f"{SITE}/a-1.dist-info/RECORD": b"a/__init__.py,,\n",
    f"{SITE}/a/__init__.py": b"print('never kept')\n",
    f"{SITE}/b-2.dist-info/METADATA": b"Name: b\nVersion: 2\n",
    f"{SITE}/six-1.16.0.egg-info/PKG-INFO": b"Name: six\nVersion: 1.16.0\n",
    f"{SITE}/six-1.16.0.egg-info/installed-files.txt": b"../six.py\n",
    f"{SITE}/old.egg-info": b"Name: old\nVersion: 0.1\n",
    "app/node_modules/left-pad/package.json": b'{"name": "left-pad", "version": "1.3.0"}',
    "app/node_modules/left-pad/index.js": b"module.exports = 1\n",
    "secret.txt": b"AKIA-not-kept",
    "bin/tool": BIG[:5000],
    "bin/tool-link": hardlink("bin/tool"),
}
LATER: dict[str, bytes | Member] = {
    f"{SITE}/.wh.b-2.dist-info": b"",
    "usr/share/doc/.wh..wh..opq": b"",
    "usr/share/doc/libc6/copyright": b"Files: *\nLicense: GPL-2+\n",
    "secret.txt": b"replaced",
    "lib/apk/db/installed": b"P:musl\nV:1.2.5-r0\nA:x86_64\no:musl\nL:MIT\n\n",  # via lib ->
}


def _apply(layout: Path, **options: object) -> FileTree:
    with open_image(layout) as image:
        return apply_layers(image, **options)  # type: ignore[arg-type]


def _shape(tree: FileTree) -> tuple[object, ...]:
    entries = [(e.path, e.type, e.mode, e.uid, e.gid, e.size, e.layer, e.linkname, e.implicit)
               for e in tree]
    deleted = [(d.entry.path, d.entry.size, d.deleted_in, d.reason) for d in tree.deleted]
    stats = [(s.index, s.members, s.uncompressed_bytes, s.diff_id) for s in tree.layer_stats]
    return entries, deleted, list(tree.hostile), stats


def test_keep_changes_only_which_bytes_are_spooled(tmp_path: Path) -> None:
    build_oci_layout(tmp_path, [BASE, LATER])
    with _apply(tmp_path) as full, _apply(tmp_path, keep=wanted_for_inventory) as lean:
        assert full.contents_complete and not lean.contents_complete
        assert _shape(full) == _shape(lean)  # entries, whiteouts, deletions, hostile, digests
        full_inv, lean_inv = inventory(FileTreeView(full)), inventory(FileTreeView(lean))
        assert lean_inv == full_inv
        assert lean_inv.problems == ()
        assert sorted(p.name for p in lean_inv.packages) == [
            "a", "bsdutils", "left-pad", "libc6", "libssl3", "musl", "old", "six", "tzdata"]
        kept = {e.path for e in lean.files()}
        assert "var/lib/dpkg/status" in kept and "usr/lib/apk/db/installed" in kept
        assert f"{SITE}/a-1.dist-info/RECORD" in kept and f"{SITE}/old.egg-info" in kept
        for skipped in ("usr/lib/x86_64-linux-gnu/libc.so.6", "secret.txt", "bin/tool",
                        f"{SITE}/a/__init__.py", "var/lib/dpkg/info/libc6:amd64.md5sums"):
            entry = lean.get(skipped)
            assert entry is not None and entry.content_skipped and not entry.has_content
            with pytest.raises(ContentNotKept, match="not kept"):
                lean.read_bytes(entry)
            with pytest.raises(ContentNotKept):
                lean.read_path(skipped)
        # a hardlink to a skipped file is skipped too (not "a hardlink to a missing file")
        link = lean.get("bin/tool-link")
        assert link is not None and link.content_skipped and link.size == 5000
        # the changelog (backport evidence) is kept and readable through the tree
        assert lean.read_path("usr/share/doc/libc6/changelog.Debian.gz") is None  # opaque dir
        assert full.read_path("usr/share/doc/libc6/copyright") == lean.read_path(
            "usr/share/doc/libc6/copyright")
        # deleted files keep their content only in the full tree
        [old_secret] = [d.entry for d in lean.deleted if d.entry.path == "secret.txt"]
        assert old_secret.content_skipped
        with pytest.raises(ImageError):
            lean.read_bytes(old_secret)
        [full_secret] = [d.entry for d in full.deleted if d.entry.path == "secret.txt"]
        assert full.read_bytes(full_secret) == b"AKIA-not-kept"


def test_a_needed_file_whose_bytes_were_not_kept_is_a_problem(tmp_path: Path) -> None:
    # the status file is a hardlink to a file the predicate does not select: the inventory
    # cannot read it, and says so instead of reporting an image without packages
    build_oci_layout(tmp_path, [{"etc/os-release": DEBIAN_OS, "stash/db": STATUS,
                                 "var/lib/dpkg/status": hardlink("stash/db")}])
    with _apply(tmp_path, keep=wanted_for_inventory) as tree:
        view = FileTreeView(tree)
        result = inventory(view)
        assert view.not_kept == ["/var/lib/dpkg/status"]
    assert [(p.path, "not kept" in p.reason) for p in result.problems] == [
        ("/var/lib/dpkg/status", True)]
    with _apply(tmp_path) as tree:
        assert inventory(FileTreeView(tree)).problems == ()


def test_keep_mode_keeps_the_bounds_and_digest_checks(tmp_path: Path) -> None:
    build_oci_layout(tmp_path / "big", [{"a": BIG, "b": BIG}])
    with pytest.raises(ImageBomb):
        _apply(tmp_path / "big", keep=lambda path: False,
               limits=Limits(max_total_bytes=300_000))
    with pytest.raises(ImageBomb, match="members"):
        _apply(tmp_path / "big", keep=lambda path: False, limits=Limits(max_members_per_layer=1))
    digest = build_oci_layout(tmp_path / "lie", [{"a": b"1"}])

    def wrong_diff_id(manifest: dict) -> None:  # type: ignore[type-arg]
        config = json.loads(read_blob(tmp_path / "lie", manifest["config"]["digest"]))
        config["rootfs"]["diff_ids"] = ["sha256:" + "0" * 64]
        cfg_digest, cfg_size = write_blob(tmp_path / "lie", json.dumps(config).encode())
        manifest["config"].update(digest=cfg_digest, size=cfg_size)

    rewrite_manifest(tmp_path / "lie", digest, wrong_diff_id)
    with pytest.raises(BlobMismatch, match="diff_id"):
        _apply(tmp_path / "lie", keep=lambda path: False)


def test_hostile_members_are_recorded_the_same_in_keep_mode(tmp_path: Path) -> None:
    build_oci_layout(tmp_path, [{"../escape": b"x", "/abs": b"y", "dev/null": Member(kind="char"),
                                 "up": symlink("../../etc"), "up/passwd": b"through a link",
                                 "ok": b"fine"}])
    with _apply(tmp_path) as full, _apply(tmp_path, keep=lambda path: False) as lean:
        assert lean.hostile == full.hostile and len(lean.hostile) >= 4
        assert _shape(lean) == _shape(full)


# ------------------------------------------------------------------ the gzip reader


def _gunzip_all(data: bytes, sizes: list[int]) -> bytes:
    reader = _Gunzip(io.BytesIO(data))
    out: list[bytes] = []
    i = 0
    while True:
        chunk = reader.read(sizes[i % len(sizes)])
        i += 1
        if not chunk:
            return b"".join(out)
        out.append(chunk)


def test_gunzip_matches_gzip_module_on_members_and_padding() -> None:
    rng = random.Random(7)
    plain = [bytes(rng.getrandbits(8) for _ in range(n)) + b"a" * n for n in (0, 1, 70_000)]
    blob = (gzip.compress(plain[0]) + gzip.compress(plain[1]) + b"\x00" * 1000
            + gzip.compress(plain[2]) + b"\x00" * 3)
    for sizes in ([-1], [1, 7, 512], [10240], [3 << 20]):
        assert _gunzip_all(blob, sizes) == gzip.decompress(blob)
    assert _gunzip_all(b"", [-1]) == b""  # an empty layer: no member at all
    big = gzip.compress(b"\x00" * (8 << 20))  # output per read is bounded by the size asked
    reader = _Gunzip(io.BytesIO(big))
    assert len(reader.read(100)) == 100 and len(reader.read()) <= 1 << 20


@pytest.mark.parametrize("blob", [
    gzip.compress(b"x" * 50_000)[:-10],  # truncated trailer
    gzip.compress(b"x" * 50_000)[:40],  # truncated deflate data
    gzip.compress(b"x") + b"trailing junk",  # not another member
    b"\x1f\x8bnot really gzip",
    bytearray(gzip.compress(b"y" * 1000)),  # the CRC is checked: corrupted below
])
def test_gunzip_refuses_corrupt_streams(blob: bytes | bytearray) -> None:
    if isinstance(blob, bytearray):
        blob[-8] ^= 0xFF
        blob = bytes(blob)
    with pytest.raises((zlib.error, EOFError)):
        _gunzip_all(blob, [4096])


def test_corrupt_gzip_layer_is_a_layer_error(tmp_path: Path) -> None:
    digest = build_oci_layout(tmp_path, [{"a": b"1" * 5000}])
    layer = json.loads(read_blob(tmp_path, digest))["layers"][0]
    junk_digest, junk_size = write_blob(tmp_path, read_blob(tmp_path, layer["digest"]) + b"junk")

    def point(manifest: dict) -> None:  # type: ignore[type-arg]
        manifest["layers"][0].update(digest=junk_digest, size=junk_size)

    rewrite_manifest(tmp_path, digest, point)
    for keep in (None, wanted_for_inventory):
        with open_image(tmp_path) as image, pytest.raises(LayerError, match="corrupt"):
            apply_layers(image, keep=keep)


# ------------------------------------------------------------------ the keep predicate


def test_every_file_the_inventory_reads_is_wanted(tmp_path: Path) -> None:
    rpm = rpmdb_sqlite(tmp_path, [rpm_package("bash", "5.2.26", "3.fc40")])
    extra = {
        "/var/lib/dpkg/status.d/base-files": b"Package: base-files\nVersion: 12\n",
        "/lib/apk/db/installed": b"P:musl\nV:1.2.5-r0\n\n",
        "/usr/lib/sysimage/rpm/rpmdb.sqlite": rpm,
        "/usr/lib/sysimage/rpm/rpmdb.sqlite-wal": b"",
        f"/{SITE}/a-1.dist-info/METADATA": b"Name: a\nVersion: 1\n",
        f"/{SITE}/a-1.dist-info/RECORD": b"a/__init__.py,,\n",
        f"/{SITE}/six.egg-info/PKG-INFO": b"Name: six\nVersion: 1\n",
        f"/{SITE}/six.egg-info/installed-files.txt": b"../six.py\n",
        f"/{SITE}/old.egg-info": b"Name: old\nVersion: 0.1\n",
        "/app/package.json": b'{"name": "x", "version": "1"}',
        "/app/node_modules/@s/p/package.json": b'{"name": "@s/p", "version": "1"}',
        "/usr/share/doc/libssl3/copyright": b"License: Apache-2.0\n",
    }
    fs: DictFs = debian_fs(**{})
    fs.files.update(extra)
    result = inventory(fs)
    assert len(result.packages) >= 10
    read = {fs._resolve(p) for p in fs.reads}
    assert {p for p in read if p in fs.files} >= set(extra) - {"/lib/apk/db/installed"}
    for path in read:
        if path in fs.files:
            assert wanted_for_inventory(path.lstrip("/")), path
    lists = "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm"
    for path in (f"{lists}_main_binary-amd64_Packages.lz4", f"{lists}_InRelease"):
        assert wanted_for_inventory(path), path  # the pending-update check reads them
    for path in ("usr/bin/python3", "etc/passwd", "var/lib/apt/lists/partial/x",
                 "usr/lib/x86_64-linux-gnu/libc.so.6",
                 "var/lib/dpkg/info/libc6.md5sums", "app/node_modules/x/index.js",
                 f"{SITE}/a/__init__.py", "status", "installed"):
        assert not wanted_for_inventory(path), path


def test_the_pending_update_check_reads_the_same_in_keep_mode(tmp_path: Path) -> None:
    apt = pytest.importorskip("secpipe.images.apt_pending")
    helpers = pytest.importorskip("test_apt_pending")
    lists = "var/lib/apt/lists"
    layer: dict[str, bytes | Member] = {
        "etc/os-release": DEBIAN_OS,
        "var/lib/dpkg/status": STATUS,
        f"{lists}/{helpers.SEC_LIST}.gz": gzip.compress(helpers.index(helpers.stanza(
            "libssl3", "3.0.15-1~deb12u1", source="openssl"))),
        f"{lists}/deb.debian.org_debian-security_dists_bookworm-security_InRelease":
            helpers.release("Tue, 01 Dec 2026 08:00:00 UTC"),
        f"{lists}/{helpers.MAIN_LIST}": helpers.index(helpers.stanza("bash", "5.2.15-2+b7")),
        "usr/bin/bash": BIG[:1000],
    }
    build_oci_layout(tmp_path, [layer])
    reports = []
    for keep in (None, wanted_for_inventory):
        with _apply(tmp_path, keep=keep) as tree:
            report = apt.check_pending(inventory(FileTreeView(tree)), tree)
            reports.append((sorted((i.name, i.security, i.date) for i in report.indexes),
                            sorted((u.package, u.security) for u in report.updates),
                            report.problems))
    assert reports[0] == reports[1]
    assert reports[1][1] == [("libssl3", True)] and reports[1][2] == ()
