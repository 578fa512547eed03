"""Inventory of a real applied image (built by code): layers, whiteouts and links through the
FileTree adapter."""

from __future__ import annotations

from pathlib import Path

from image_builders import Member, build_oci_layout, symlink
from test_inventory import DEBIAN_OS, STATUS

from secpipe.images.inventory import DEB, PYPI, inventory
from secpipe.images.layers import apply_layers
from secpipe.images.layout import open_image
from secpipe.images.pkg_filetree import FileTreeView
from secpipe.images.sbom import cyclonedx

SITE = "usr/lib/python3/dist-packages"


def test_inventory_of_an_applied_image(tmp_path: Path) -> None:
    base: dict[str, bytes | Member] = {
        "usr/lib/os-release": DEBIAN_OS,
        "etc/os-release": symlink("../usr/lib/os-release"),
        "lib": symlink("usr/lib"),
        "var/lib/dpkg/status": STATUS,
        f"{SITE}/a-1.dist-info/METADATA": b"Name: a\nVersion: 1\n",
        f"{SITE}/b-2.dist-info/METADATA": b"Name: b\nVersion: 2\n",
        "loop/x": symlink("../loop/x"),
        "etc/self": symlink("/etc"),
    }
    later = {f"{SITE}/.wh.b-2.dist-info": b"",
             "app/node_modules/left-pad/package.json":
                 b'{"name": "left-pad", "version": "1.3.0"}'}
    digest = build_oci_layout(tmp_path, [base, later])
    with apply_layers(open_image(tmp_path)) as tree:
        view = FileTreeView(tree)
        assert view.read("/etc/os-release", 1 << 10) == DEBIAN_OS  # through the link
        assert view.listdir("/lib") == []  # a link is not walked into
        assert view.read("/loop/x", 10) is None  # a loop is "no file", not a crash
        assert view.owner("/var/lib/dpkg/status") == (0, 0)
        assert view.exists("/loop/x") and not view.exists("/nope")
        result = inventory(view)
    assert result.problems == ()
    assert result.distro is not None and result.distro.release == "debian-12"
    assert result.count(DEB) == 4
    assert [p.name for p in result.packages if p.ecosystem == PYPI] == ["a"]  # b whited out
    assert [p.locations for p in result.packages if p.name == "a"] == [
        (f"/{SITE}/a-1.dist-info/METADATA",)]
    doc = cyclonedx(result.packages, "example/app:1", digest)
    assert doc["metadata"]["component"]["version"] == digest
    assert len([c for c in doc["components"] if c["type"] == "library"]) == 6
