"""Secrets scan of an image's layers: unchanged distribution files and apt indexes are skipped.

Images are built by code (``tests/images/image_builders.py``) with a dpkg database (status or
distroless ``status.d``, md5sums) that records some files; the secret-looking strings are made
up at run time.
"""

from __future__ import annotations

import hashlib
import random
import string
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "images"))

from image_builders import LayerSpec, Member, build_oci_layout, hardlink, symlink

from secpipe.core.findings import Finding
from secpipe.images.layers import FileTree, apply_layers
from secpipe.images.layout import Image, open_image
from secpipe.scanners.image.content import ContentStats, DistributionFiles, scan_contents

UPPER32 = string.ascii_uppercase + "234567"
INFO = "var/lib/dpkg/info"


def aws_key(seed: int = 11) -> str:
    """An AWS access key id shaped token, made up at run time (never a literal credential)."""
    rng = random.Random(seed)
    return "AKIA" + "".join(rng.choice(UPPER32) for _ in range(16))


def secret_text(seed: int = 11) -> bytes:
    return f"example configuration\naws_access_key_id = {aws_key(seed)}\n".encode()


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def stanza(name: str, *, state: str = "installed", conffiles: Sequence[tuple[str, str]] = (),
           status: bool = True) -> str:
    lines = [f"Package: {name}"]
    if status:
        lines.append(f"Status: install ok {state}")
    lines += ["Architecture: amd64", "Version: 1.0-1"]
    if conffiles:
        lines.append("Conffiles:")
        lines += [f" {path} {digest}" for path, digest in conffiles]
    return "\n".join(lines) + "\n"


def md5sums(files: Mapping[str, bytes]) -> bytes:
    return "".join(f"{md5(data)}  {path}\n" for path, data in files.items()).encode()


@contextmanager
def opened(tmp_path: Path, layers: Sequence[LayerSpec]) -> Iterator[tuple[FileTree, Image]]:
    layout = tmp_path / "img"
    build_oci_layout(layout, layers, {"config": {"User": "1000"}})
    with open_image(layout) as image, apply_layers(image) as tree:
        yield tree, image


def scan(tmp_path: Path, layers: Sequence[LayerSpec], *,
         distribution_files: bool = False) -> tuple[list[Finding], list[str], ContentStats]:
    stats: list[ContentStats] = []
    with opened(tmp_path, layers) as (tree, image):
        found, problems = scan_contents(tree, image, stats=stats,
                                        distribution_files=distribution_files)
    return found, problems, stats[0]


def secret_paths(findings: list[Finding]) -> dict[str, str | None]:
    """Path -> member of each secret finding (not the scan-incomplete ones)."""
    return {f.location.path: f.location.member for f in findings
            if f.rule_id.startswith("secrets.") and f.rule_id != "secrets.scan-incomplete"}


def debian_layer(owned: Mapping[str, bytes], files: Mapping[str, bytes | Member] | None = None,
                 *, state: str = "installed",
                 conffiles: Sequence[tuple[str, str]] = ()) -> dict[str, bytes | Member]:
    """A base layer: package ``demo`` recording ``owned`` (path -> recorded bytes) in its
    md5sums; ``files`` (path -> bytes in the image) default to the recorded ones."""
    layer: dict[str, bytes | Member] = {
        "var/lib/dpkg/status": stanza("demo", state=state, conffiles=conffiles).encode(),
        f"{INFO}/demo.md5sums": md5sums(owned),
        f"{INFO}/demo.list": "".join(f"/{p}\n" for p in owned).encode(),
    }
    layer.update(owned if files is None else files)
    return layer


DOC = "usr/share/doc/demo/NEWS"


def test_unchanged_package_file_is_skipped_unowned_file_is_found(tmp_path: Path) -> None:
    layer = debian_layer({DOC: secret_text(1)})
    layer["srv/app/settings.ini"] = secret_text(2)
    found, problems, stats = scan(tmp_path, [layer])
    assert secret_paths(found) == {"srv/app/settings.ini": "layer 0"}
    assert problems == []
    assert stats.distribution_skipped == 1
    note = stats.note()
    assert note is not None and "1 unchanged distribution file" in note


def test_same_path_with_changed_bytes_is_scanned(tmp_path: Path) -> None:
    recorded = b"example configuration\nnothing secret here\n"
    layer = debian_layer({DOC: recorded}, {DOC: secret_text(3)})
    found, _, stats = scan(tmp_path, [layer])
    assert secret_paths(found) == {DOC: "layer 0"}
    assert stats.distribution_skipped == 0


def test_package_file_replaced_in_a_later_layer_is_scanned(tmp_path: Path) -> None:
    base = debian_layer({DOC: b"the release notes\n"})
    found, _, stats = scan(tmp_path, [base, {DOC: secret_text(4)}])
    assert secret_paths(found) == {DOC: "layer 1"}
    assert stats.distribution_skipped == 0


def test_package_file_deleted_in_a_later_layer_is_still_scanned(tmp_path: Path) -> None:
    base = debian_layer({DOC: secret_text(5)})
    found, _, stats = scan(tmp_path, [base, {"usr/share/doc/demo/.wh.NEWS": b""}])
    assert secret_paths(found) == {DOC: "layer 0, deleted in layer 1"}
    assert stats.deleted_scanned == 1


def test_distroless_status_d_md5sums_are_honoured(tmp_path: Path) -> None:
    layer: dict[str, bytes | Member] = {
        "var/lib/dpkg/status.d/demo": stanza("demo", status=False).encode(),
        "var/lib/dpkg/status.d/demo.md5sums": md5sums({DOC: secret_text(6)}),
        DOC: secret_text(6),
        "usr/share/doc/other/NEWS": secret_text(7),
    }
    found, _, stats = scan(tmp_path, [layer])
    assert secret_paths(found) == {"usr/share/doc/other/NEWS": "layer 0"}
    assert stats.distribution_skipped == 1


def test_distroless_changed_file_is_scanned(tmp_path: Path) -> None:
    layer: dict[str, bytes | Member] = {
        "var/lib/dpkg/status.d/demo": stanza("demo", status=False).encode(),
        "var/lib/dpkg/status.d/demo.md5sums": md5sums({DOC: b"plain notes\n"}),
        DOC: secret_text(8),
    }
    found, _, _ = scan(tmp_path, [layer])
    assert DOC in secret_paths(found)


def test_md5sums_paths_resolve_through_merged_usr_links(tmp_path: Path) -> None:
    recorded = {"lib/demo/defaults.conf": secret_text(9)}
    layer = debian_layer(recorded, {"lib": symlink("usr/lib"),
                                    "usr/lib/demo/defaults.conf": secret_text(9)})
    found, _, stats = scan(tmp_path, [layer])
    assert secret_paths(found) == {}
    assert stats.distribution_skipped == 1


def test_conffiles_unchanged_skipped_edited_scanned(tmp_path: Path) -> None:
    shipped = secret_text(10)
    conf = [("/etc/demo/shipped.conf", md5(shipped)), ("/etc/demo/edited.conf", md5(shipped))]
    layer = debian_layer({DOC: b"notes\n"}, {"etc/demo/shipped.conf": shipped,
                                             "etc/demo/edited.conf": secret_text(12)},
                         conffiles=conf)
    found, _, stats = scan(tmp_path, [layer])
    assert secret_paths(found) == {"etc/demo/edited.conf": "layer 0"}
    assert stats.distribution_skipped == 1


def test_removed_package_md5sums_are_not_trusted(tmp_path: Path) -> None:
    layer = debian_layer({DOC: secret_text(13)}, state="config-files")
    found, _, stats = scan(tmp_path, [layer])
    assert DOC in secret_paths(found)
    assert stats.distribution_skipped == 0


def test_md5sums_without_a_package_in_the_database_is_ignored(tmp_path: Path) -> None:
    layer: dict[str, bytes | Member] = {
        f"{INFO}/ghost.md5sums": md5sums({DOC: secret_text(14)}),
        DOC: secret_text(14),
    }
    found, _, _ = scan(tmp_path, [layer])
    assert DOC in secret_paths(found)


def test_hardlink_of_package_content_at_an_unowned_path_is_scanned(tmp_path: Path) -> None:
    layer = debian_layer({DOC: secret_text(15)})
    layer["srv/copy.txt"] = hardlink(DOC)
    found, _, stats = scan(tmp_path, [layer])
    assert secret_paths(found) == {"srv/copy.txt": "layer 0"}
    assert stats.distribution_skipped == 1


def test_option_scans_distribution_files_too(tmp_path: Path) -> None:
    layer = debian_layer({DOC: secret_text(16)})
    found, _, stats = scan(tmp_path, [layer], distribution_files=True)
    assert DOC in secret_paths(found)
    assert stats.distribution_skipped == 0
    assert stats.note() is None


LISTS = "var/lib/apt/lists"
INDEX = f"{LISTS}/deb.example.org_debian_dists_stable_main_binary-amd64_Packages"


def index_text(seed: int) -> bytes:
    return (f"Package: demo\nVersion: 1.0-1\nDescription: example\n"
            f" aws_access_key_id = {aws_key(seed)}\n").encode()


def test_apt_index_skipped_live_and_deleted_team_file_in_lists_scanned(tmp_path: Path) -> None:
    base: dict[str, bytes | Member] = {
        INDEX: index_text(17),
        f"{LISTS}/deb.example.org_debian_dists_stable_InRelease":
            b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" + index_text(18),
        f"{LISTS}/credentials.env": secret_text(19),
        f"{LISTS}/partial/deb.example.org_debian_dists_stable_main_binary-amd64_Packages":
            index_text(20),
        f"{LISTS}/deb.example.org_debian_dists_stable_main_binary-amd64_Sources":
            secret_text(21),  # an index name, but not an index's content
    }
    found, _, stats = scan(tmp_path, [base, {f"{LISTS}/.wh.{INDEX.rsplit('/', 1)[1]}": b""}])
    paths = secret_paths(found)
    assert INDEX not in paths
    assert f"{LISTS}/deb.example.org_debian_dists_stable_InRelease" not in paths
    assert f"{LISTS}/credentials.env" in paths
    assert any("/partial/" in p for p in paths)
    assert f"{LISTS}/deb.example.org_debian_dists_stable_main_binary-amd64_Sources" in paths
    assert stats.indexes_skipped == 2  # the deleted Packages and the live InRelease


def test_hostile_database_never_crashes_and_fails_open_to_scanning(tmp_path: Path) -> None:
    layer: dict[str, bytes | Member] = {
        "var/lib/dpkg/status": b"Package: demo\nStatus: install ok installed\n\x00\xff junk\n"
                               b"\nPackage: ../../x\nStatus: install ok installed\n",
        f"{INFO}/demo.md5sums": b"not a line\n" + b"z" * 32 + b"  " + DOC.encode() + b"\n"
                                + md5(secret_text(22)).encode() + b"  ../../" + DOC.encode()
                                + b"\n",
        "var/lib/dpkg/status.d": symlink("status.d"),  # a loop
        DOC: secret_text(22),
    }
    found, _, stats = scan(tmp_path, [layer])
    assert DOC in secret_paths(found)
    assert stats.distribution_skipped == 0


def test_records_are_resolved_and_bounded_per_file(tmp_path: Path) -> None:
    layer = debian_layer({DOC: b"x\n", "usr/share/demo/b.txt": b"y\n"})
    with opened(tmp_path, [layer]) as (tree, _):
        published = DistributionFiles(tree, max_hash_bytes=1)
        assert set(published.records) == {DOC, "usr/share/demo/b.txt"}
        entry = tree.get(DOC)
        assert entry is not None
        # over the hashing budget: not decided as distribution content, so it is scanned
        assert published.kind(entry, live=True) is None
        assert DistributionFiles(tree, 1 << 20).kind(entry, live=True) == "package"
        assert DistributionFiles(tree, 1 << 20).kind(entry, live=False) is None


def test_database_bounds_fail_open_to_scanning(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from secpipe.scanners.image import content

    layer = debian_layer({DOC: secret_text(23)})
    monkeypatch.setattr(content, "_MAX_DATABASE_BYTES", 16)  # the status file is larger
    found, _, stats = scan(tmp_path / "bytes", [layer])
    assert DOC in secret_paths(found) and stats.distribution_skipped == 0
    monkeypatch.undo()
    monkeypatch.setattr(content, "_MAX_RECORDS", 0)
    found, _, stats = scan(tmp_path / "records", [layer])
    assert DOC in secret_paths(found) and stats.distribution_skipped == 0
