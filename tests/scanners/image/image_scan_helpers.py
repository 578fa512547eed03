"""Test helpers for ``scan-image``: a Debian 12 image built by code and an OSV database made of
the distribution fixture set plus one PyPI record written here."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "images"))

from image_builders import Member, build_oci_layout, docker_archive, oci_archive

from secpipe.scanners.deps.osvdb import import_sources

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "osv-distro"
DEBIAN_OS = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n' \
            b"VERSION_CODENAME=bookworm\n"
SITE = "usr/lib/python3/dist-packages"

# libc6 (source glibc 2.36-9+deb12u1) is affected, in the fixture set, by CVE-2023-4911 and
# CVE-2023-4527 (fixed in +deb12u3), CVE-2024-2961 (fixed in +deb12u7), CVE-2010-4756 (no fix).
STATUS = b"""Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u1
Description: GNU C Library

Package: base-files
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u5
Description: Debian base system miscellaneous files
"""
CLEAN_STATUS = STATUS.split(b"\n\n")[1]

CHANGELOG = """glibc (2.36-9+deb12u1) bookworm-security; urgency=medium

  * debian/patches/any/local-CVE-2023-4911.patch: Fix a buffer overflow in
    ld.so's GLIBC_TUNABLES handling (CVE-2023-4911).

 -- Aurelien Jarno <aurel32@debian.org>  Sat, 30 Sep 2023 13:00:00 +0200

glibc (2.36-9) unstable; urgency=medium

  * Upload to unstable.

 -- Aurelien Jarno <aurel32@debian.org>  Sun, 23 Apr 2023 13:00:00 +0200
"""

PYPI_RECORD: dict[str, Any] = {
    "schema_version": "1.6.0", "id": "GHSA-demo-0001-0001", "modified": "2024-01-01T00:00:00Z",
    "aliases": ["CVE-2024-99991"], "summary": "demo-pkg: remote code execution",
    "affected": [{"package": {"ecosystem": "PyPI", "name": "demo-pkg"},
                  "ranges": [{"type": "ECOSYSTEM",
                              "events": [{"introduced": "0"}, {"fixed": "1.2.0"}]}]}],
    "severity": [{"type": "CVSS_V3",
                  "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
}


def make_database(folder: Path) -> Path:
    """An OSV database with the distribution fixtures and :data:`PYPI_RECORD` (no ecosystem
    filter: ``--ecosystem Debian`` matches nothing, the records say ``Debian:12``)."""
    extra = folder / "extra"
    extra.mkdir(parents=True)
    (extra / "GHSA-demo-0001-0001.json").write_text(json.dumps(PYPI_RECORD))
    db = folder / "osv.sqlite3"
    import_sources([FIXTURES, extra], db)
    return db


def debian_layers(*, status: bytes = STATUS, changelog: bool = True,
                  python: bool = True) -> list[dict[str, bytes | Member]]:
    """Two layers: a Debian 12 base with dpkg status (and libc6's changelog), then an app."""
    base: dict[str, bytes | Member] = {"etc/os-release": DEBIAN_OS,
                                       "var/lib/dpkg/status": status}
    if changelog:
        base["usr/share/doc/libc6/changelog.Debian.gz"] = gzip.compress(CHANGELOG.encode(),
                                                                         mtime=0)
    app: dict[str, bytes | Member] = {"app/main.py": b"print('hello')\n"}
    if python:
        app[f"{SITE}/demo_pkg-1.0.dist-info/METADATA"] = b"Name: demo-pkg\nVersion: 1.0\n"
    return [base, app]


def build_layout(folder: Path, **options: Any) -> Path:
    """An OCI layout folder of :func:`debian_layers`."""
    build_oci_layout(folder, debian_layers(**options), ref_name="example/app:1")
    return folder


def build_oci_archive(out: Path, **options: Any) -> Path:
    """An oci-archive tar of :func:`debian_layers`."""
    return Path(oci_archive(out, debian_layers(**options), ref_name="example/app:1"))


def build_docker_archive(out: Path, **options: Any) -> Path:
    """A docker-archive tar of :func:`debian_layers`."""
    return Path(docker_archive(out, debian_layers(**options)))


def openvex(vuln: str, product: str, status: str = "not_affected",
            justification: str = "vulnerable_code_not_in_execute_path") -> dict[str, Any]:
    """A one-statement OpenVEX document."""
    return {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1",
            "author": "tests", "timestamp": "2026-12-04T00:00:00Z", "version": 1,
            "statements": [{"vulnerability": {"name": vuln}, "products": [{"@id": product}],
                            "status": status, "justification": justification}]}
