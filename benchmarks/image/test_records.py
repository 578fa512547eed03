"""Self-checks of the benchmark's synthetic OSV records (run explicitly:
``PYTHONPATH=src .venv/bin/pytest -q -p no:cacheprovider benchmarks/image/test_records.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (
    _fixed,
    above_records,
    backport_records,
    not_affected_records,
    patched_records,
)

from secpipe.images.distro_versions import dpkg_compare

SOURCES = {"glibc": "2.36-9+deb12u14", "zlib": "1:1.2.13.dfsg-1", "util-linux": "2.38.1-5+deb12u3",
           "apt": "2.6.1"}


def _fixed_versions(records: list[dict[str, object]]) -> list[tuple[str, str]]:
    out = []
    for record in records:
        for entry in record["affected"]:  # type: ignore[attr-defined]
            if entry["package"]["ecosystem"] != "Debian:12":
                continue
            for rng in entry["ranges"]:
                for event in rng["events"]:
                    if "fixed" in event:
                        out.append((entry["package"]["name"], event["fixed"]))
    return out


def test_tilde_sorts_below_the_installed_version() -> None:
    for version in SOURCES.values():
        assert dpkg_compare(_fixed(version, True), version) < 0
        assert _fixed(version, False) == version


def test_patched_records_are_fixed_at_or_below_installed() -> None:
    fixed = [(n, v) for n, v in _fixed_versions(patched_records(SOURCES)) if n in SOURCES]
    assert len(fixed) >= len(SOURCES)
    assert all(dpkg_compare(v, SOURCES[n]) <= 0 for n, v in fixed)


def test_controls_are_fixed_above_installed() -> None:
    fixed = _fixed_versions(above_records(SOURCES))
    assert len(fixed) == len(SOURCES)
    assert all(dpkg_compare(v, SOURCES[n]) > 0 for n, v in fixed)
    cves = {"zlib": ["CVE-2022-37434"], "glibc": ["CVE-2023-4911", "CVE-2023-4527"]}
    debian = backport_records(SOURCES, cves)
    assert [r["id"] for r in debian] == ["DEBIAN-CVE-2023-4911", "DEBIAN-CVE-2023-4527",
                                         "DEBIAN-CVE-2022-37434"]
    dsa = backport_records(SOURCES, cves, "dsa")
    assert [r["upstream"] for r in dsa] == [["CVE-2023-4911", "CVE-2023-4527"],
                                            ["CVE-2022-37434"]]
    assert all(dpkg_compare(v, SOURCES[n]) > 0 for n, v in _fixed_versions(debian + dsa))


def test_not_affected_records_state_the_status() -> None:
    records = not_affected_records(SOURCES)
    assert len(records) == len(SOURCES)
    assert all(r["affected"][0]["ecosystem_specific"]["status"] == "not-affected"
               for r in records)
