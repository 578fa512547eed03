"""Matching distribution packages against the Debian/Alpine OSV fixture set: source names,
release ecosystems, fix status, not-affected never reported, backport evidence."""

from __future__ import annotations

import contextlib
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secpipe.core.errors import InputError
from secpipe.images.distro_match import (
    DistroAdvisory,
    DistroMatchError,
    DistroPackage,
    FixStatus,
    Release,
    Vuln,
    advisories_from_db,
    advisories_from_osv,
    drop_backported,
    match,
    osv_ecosystem,
    range_affected,
)
from secpipe.images.distro_versions import dpkg_compare
from secpipe.scanners.deps.osvdb import OsvDatabase, import_sources

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "osv-distro"
BOOKWORM = Release("debian", "12.7")
ALPINE = Release("alpine", "3.20.3")


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))]


def by_id(vulns: list[Vuln]) -> dict[str, Vuln]:
    return {v.id: v for v in vulns}


def test_ecosystems_from_os_release() -> None:
    assert osv_ecosystem("debian", "12.7") == "Debian:12"
    assert osv_ecosystem("alpine", "3.20.3") == "Alpine:v3.20"
    assert osv_ecosystem("ubuntu", "22.04") == "Ubuntu:22.04"
    assert osv_ecosystem("arch", "") is None
    assert osv_ecosystem("debian", "../12") is None
    with pytest.raises(DistroMatchError):
        _ = Release("gentoo", "2.15").ecosystem
    assert BOOKWORM.known and ALPINE.known
    assert not Release("debian", "").known  # sid: no VERSION_ID


def test_debian_fixed_by_source_name_with_both_records(records: list[dict[str, Any]]) -> None:
    libc = DistroPackage("libc6", "2.36-9+deb12u1", source_name="glibc")
    found = by_id(match([libc], records, BOOKWORM))
    looney = found["CVE-2023-4911"]
    assert looney.status is FixStatus.FIXED
    assert looney.fixed == "2.36-9+deb12u3"
    assert looney.advisories == ("DEBIAN-CVE-2023-4911", "DSA-5514-1")
    assert looney.package == "libc6" and looney.source == "glibc"
    assert looney.urgency == "high"
    # the DSA also speaks for CVE-2023-4527, which has no record of its own here
    assert found["CVE-2023-4527"].advisories == ("DSA-5514-1",)
    assert found["CVE-2024-2961"].fixed == "2.36-9+deb12u7"
    unimportant = found["CVE-2010-4756"]
    assert unimportant.status is FixStatus.AFFECTED and unimportant.fixed is None
    assert unimportant.urgency == "unimportant"
    # the Ubuntu record of the same CVE never applies to Debian
    assert all("UBUNTU" not in a for v in found.values() for a in v.advisories)


def test_a_patched_package_has_no_fixed_finding(records: list[dict[str, Any]]) -> None:
    libc = DistroPackage("libc6", "2.36-9+deb12u7", source_name="glibc")
    found = by_id(match([libc], records, BOOKWORM))
    assert set(found) == {"CVE-2010-4756"}  # only the unfixed, unimportant one remains


def test_binary_name_alone_does_not_match_a_source_record(records: list[dict[str, Any]]) -> None:
    # libc6 without its Source: field is not glibc: no guess
    assert match([DistroPackage("libc6", "2.36-9+deb12u1")], records, BOOKWORM) == []


def test_source_version_is_compared_not_the_binary_one(records: list[dict[str, Any]]) -> None:
    # a binNMU binary of the fixed source upload: the source version decides
    ssl = DistroPackage("libssl3", "3.0.13-1~deb12u1+b1", source_name="openssl",
                        source_version="3.0.13-1~deb12u1")
    assert match([ssl], records, BOOKWORM) == []
    old = DistroPackage("libssl3", "3.0.11-1~deb12u2", source_name="openssl")
    assert by_id(match([old], records, BOOKWORM))["CVE-2023-5678"].fixed == "3.0.13-1~deb12u1"


def test_epoch_versions(records: list[dict[str, Any]]) -> None:
    sshd = DistroPackage("openssh-server", "1:9.2p1-2+deb12u2", source_name="openssh")
    found = by_id(match([sshd], records, BOOKWORM))
    assert found["CVE-2024-6387"].fixed == "1:9.2p1-2+deb12u3"
    assert found["CVE-2024-6387"].advisories == ("DEBIAN-CVE-2024-6387", "DSA-5724-1")
    patched = DistroPackage("openssh-server", "1:9.2p1-2+deb12u3", source_name="openssh")
    assert match([patched], records, BOOKWORM) == []


def test_release_is_respected(records: list[dict[str, Any]]) -> None:
    # xz 5.4.1 in bookworm: the backdoor record names Debian 13 only
    xz = DistroPackage("liblzma5", "5.4.1-0.2", source_name="xz-utils")
    assert match([xz], records, BOOKWORM) == []
    trixie = Release("debian", "13")
    bad = DistroPackage("liblzma5", "5.6.1-1", source_name="xz-utils")
    assert by_id(match([bad], records, trixie))["CVE-2024-3094"].fixed == "5.6.1+really5.4.5-1"


@pytest.mark.parametrize(("source", "version", "cve", "status"), [
    ("zlib", "1:1.2.13.dfsg-1", "CVE-2023-45853", FixStatus.WILL_NOT_FIX),
    ("shadow", "1:4.13+dfsg1-1", "CVE-2023-4641", FixStatus.DEFERRED),
    ("apt", "2.6.1", "CVE-2011-3374", FixStatus.AFFECTED),
])
def test_debian_fix_status(records: list[dict[str, Any]], source: str, version: str, cve: str,
                           status: FixStatus) -> None:
    found = by_id(match([DistroPackage(source, version)], records, BOOKWORM))
    assert found[cve].status is status
    assert found[cve].fixed is None


def test_end_of_life_from_urgency(records: list[dict[str, Any]]) -> None:
    perl = DistroPackage("perl", "5.28.1-6+deb10u1")
    found = by_id(match([perl], records, Release("debian", "10")))
    assert found["CVE-2023-31484"].status is FixStatus.END_OF_LIFE


def test_not_affected_is_never_reported(records: list[dict[str, Any]]) -> None:
    ul = DistroPackage("util-linux", "2.36.1-8+deb11u1")
    assert match([ul], records, Release("debian", "11")) == []
    # bookworm has the same CVE open (unimportant): reported there
    assert by_id(match([DistroPackage("util-linux", "2.38.1-5+b1")], records,
                       BOOKWORM))["CVE-2022-0563"].status is FixStatus.AFFECTED


def test_withdrawn_records_never_match(records: list[dict[str, Any]]) -> None:
    assert match([DistroPackage("bash", "5.2.15-2+b2")], records, BOOKWORM) == []


def test_alpine_by_origin(records: list[dict[str, Any]]) -> None:
    pkgs = [DistroPackage("libcrypto3", "3.3.0-r2", source_name="openssl"),
            DistroPackage("libssl3", "3.3.0-r2", source_name="openssl"),
            DistroPackage("busybox", "1.36.1-r29", source_name="busybox"),
            DistroPackage("curl", "8.8.0-r0", source_name="curl"),
            DistroPackage("zlib", "1.3.1-r1", source_name="zlib")]
    found = match(pkgs, records, ALPINE)
    assert [(v.package, v.id, v.fixed) for v in found] == [
        ("curl", "CVE-2024-6197", "8.9.0-r0"),
        ("libcrypto3", "CVE-2024-5535", "3.3.1-r1"),
        ("libssl3", "CVE-2024-5535", "3.3.1-r1"),
    ]  # busybox r29 is past r16; zlib's fixed "0" means never affected
    assert all(v.status is FixStatus.FIXED for v in found)


def test_a_pre_release_apk_version_is_below_its_release(records: list[dict[str, Any]]) -> None:
    musl = DistroPackage("musl", "1.2.5_rc1-r0")
    assert by_id(match([musl], records, ALPINE))["CVE-2025-26519"].fixed == "1.2.5-r1"


def test_other_package_types_are_left_to_their_matchers(records: list[dict[str, Any]]) -> None:
    class Py:
        ecosystem = "pypi"
        name = "glibc"
        version = "1.0"
        source_name = None
        source_version = None

    assert match([Py()], records, BOOKWORM) == []


def test_uncomparable_versions_are_undecided_not_passed(records: list[dict[str, Any]]) -> None:
    broken = DistroPackage("libc6", "not a version", source_name="glibc")
    found = by_id(match([broken], records, BOOKWORM))
    # a range open from "0" with no fix needs no comparison: affected whatever the version
    assert found["CVE-2010-4756"].status is FixStatus.AFFECTED
    for cve in ("CVE-2023-4911", "CVE-2024-2961", "CVE-2023-4527"):
        assert found[cve].status is FixStatus.UNDECIDED
        assert "not a valid dpkg version" in found[cve].note
    hostile = {"id": "DEBIAN-CVE-2024-0001", "modified": "2024-01-01T00:00:00Z",
               "affected": [{"package": {"ecosystem": "Debian:12", "name": "glibc"},
                             "ranges": [{"type": "ECOSYSTEM",
                                         "events": [{"introduced": "0"},
                                                    {"fixed": "../../etc/passwd"}]}]}]}
    [vuln] = match([DistroPackage("libc6", "2.36-9", source_name="glibc")], [hostile],
                   BOOKWORM)
    assert vuln.status is FixStatus.UNDECIDED


def test_records_that_are_not_osv_are_refused() -> None:
    with pytest.raises(DistroMatchError) as info:
        match([DistroPackage("a", "1")], [{"id": "X"}], BOOKWORM)
    assert isinstance(info.value, InputError)
    with pytest.raises(DistroMatchError):
        advisories_from_osv([["not", "a", "record"]], "Debian:12")  # type: ignore[list-item]


def test_last_affected_and_limit_events() -> None:
    events = (("introduced", "1.0-1"), ("last_affected", "1.2-1"))
    assert range_affected("1.2-1", events, dpkg_compare)
    assert not range_affected("1.2-2", events, dpkg_compare)
    assert not range_affected("0.9-1", events, dpkg_compare)
    capped = (("introduced", "0"), ("limit", "2.0-1"))
    assert range_affected("1.9-1", capped, dpkg_compare)
    assert not range_affected("2.0-1", capped, dpkg_compare)
    only_fixed = (("fixed", "1.5-1"),)  # off-schema: no introduced event
    assert range_affected("1.4-1", only_fixed, dpkg_compare)
    assert not range_affected("1.5-1", only_fixed, dpkg_compare)


def test_explicit_versions_list() -> None:
    adv = DistroAdvisory(id="DSA-1-1", package="foo", ecosystem="Debian:12", ranges=(),
                         versions=("1.0-1",), vulnerabilities=("CVE-2024-1",))
    [v] = match([DistroPackage("foo", "1.0-1")], [adv], BOOKWORM)
    assert v.status is FixStatus.AFFECTED
    assert match([DistroPackage("foo", "1.0-2")], [adv], BOOKWORM) == []


CHANGELOG = """glibc (2.36-9+deb12u2) bookworm-security; urgency=medium

  * Fix CVE-2023-4911: buffer overflow in ld.so's GLIBC_TUNABLES parsing.

 -- Aurelien Jarno <aurel32@debian.org>  Sat, 30 Sep 2023 10:00:00 +0200

glibc (2.36-9+deb12u1) bookworm; urgency=medium

  * Update from upstream stable branch.

 -- Aurelien Jarno <aurel32@debian.org>  Sat, 29 Jul 2023 10:00:00 +0200
"""


def test_backport_evidence_drops_the_finding(records: list[dict[str, Any]]) -> None:
    # the feed says fixed in deb12u3, but this image's own changelog shows the fix in deb12u2
    libc = DistroPackage("libc6", "2.36-9+deb12u2", source_name="glibc")
    found = match([libc], records, BOOKWORM)
    assert "CVE-2023-4911" in by_id(found)
    kept, dropped = drop_backported(found, lambda v: CHANGELOG if v.source == "glibc" else None)
    assert "CVE-2023-4911" not in by_id(kept)
    [evidence] = dropped
    assert evidence.vuln.id == "CVE-2023-4911"
    assert evidence.changelog_version == "2.36-9+deb12u2"
    assert evidence.line.startswith("* Fix CVE-2023-4911")
    assert "CVE-2010-4756" in by_id(kept)


def test_no_changelog_no_drop(records: list[dict[str, Any]]) -> None:
    libc = DistroPackage("libc6", "2.36-9+deb12u1", source_name="glibc")
    found = match([libc], records, BOOKWORM)
    kept, dropped = drop_backported(found, lambda v: None)
    assert kept == found and dropped == []
    # an entry above the installed version is not evidence
    kept, dropped = drop_backported(found, lambda v: CHANGELOG)
    assert dropped == []
    # a version dpkg cannot place (the unfixed record still matched it) proves nothing
    odd = match([DistroPackage("libc6", "garbage", source_name="glibc")], records, BOOKWORM)
    kept, dropped = drop_backported(odd, lambda v: CHANGELOG)
    assert dropped == [] and len(kept) == len(odd)


def test_database_round_trip_keeps_status_and_upstream(tmp_path: Path,
                                                       records: list[dict[str, Any]]) -> None:
    """The fixture set imports into the osvdb (ecosystems kept apart from PyPI), and the
    advisories read back from it match exactly as the record JSON does: fixed versions,
    urgency, status and a DSA's CVE ids (schema 2)."""
    db_path = tmp_path / "osv.sqlite3"
    report = import_sources([FIXTURES], db_path)
    assert report.per_ecosystem["Debian:12"] >= 10
    assert report.per_ecosystem["Alpine:v3.20"] >= 4
    libc = DistroPackage("libc6", "2.36-9+deb12u1", source_name="glibc")
    with OsvDatabase(db_path) as db:
        advisories = advisories_from_db(db, "Debian:12", ["glibc", "GLIBC", "nothing"])
    assert {a.ecosystem for a in advisories} == {"Debian:12"}
    found = by_id(match([libc], advisories, BOOKWORM))
    assert found["CVE-2023-4911"].fixed == "2.36-9+deb12u3"
    assert set(found["CVE-2023-4911"].advisories) == {"DEBIAN-CVE-2023-4911", "DSA-5514-1"}
    assert "DSA-5514-1" not in found  # grouped under its CVE through `upstream`
    assert found["CVE-2010-4756"].status is FixStatus.AFFECTED
    from_json = by_id(match([libc], records, BOOKWORM))
    assert {k: (v.status, v.fixed, v.urgency, sorted(v.advisories))
            for k, v in found.items()} == \
        {k: (v.status, v.fixed, v.urgency, sorted(v.advisories)) for k, v in from_json.items()}
    assert any(v.urgency for v in found.values())


def test_a_schema_1_database_is_read_and_kept(tmp_path: Path) -> None:
    import json
    import sqlite3

    db_path = tmp_path / "osv.sqlite3"
    import_sources([FIXTURES], db_path)
    old = sqlite3.connect(db_path)  # what an older secpipe wrote: no status columns
    old.execute("ALTER TABLE affected DROP COLUMN specific")
    old.execute("ALTER TABLE vulns DROP COLUMN upstream")
    old.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    old.commit()
    old.close()
    libc = DistroPackage("libc6", "2.36-9+deb12u1", source_name="glibc")
    with OsvDatabase(db_path) as db:
        assert db.schema == "1"
        found = by_id(match([libc], advisories_from_db(db, "Debian:12", ["glibc"]), BOOKWORM))
    assert found["DSA-5514-1"].fixed == "2.36-9+deb12u3"  # no upstream: its own entry
    assert found["CVE-2010-4756"].urgency == ""
    pypi = tmp_path / "pypi.json"
    pypi.write_text(json.dumps({"id": "PYSEC-1", "modified": "2026-01-01T00:00:00Z",
                                "affected": [{"package": {"ecosystem": "PyPI", "name": "x"},
                                              "versions": ["1.0"]}]}))
    report = import_sources([pypi], db_path)
    assert "Alpine:v3.20" in report.kept and "Debian:12" in report.kept
    with OsvDatabase(db_path) as db:
        assert db.schema == "2"
        assert db.affected("PyPI", "x") and db.affected("Debian:12", "glibc")


def test_an_ecosystem_filter_keeps_its_releases(tmp_path: Path) -> None:
    report = import_sources([FIXTURES], tmp_path / "osv.sqlite3", ecosystems=["Debian"])
    assert "Debian:12" in report.per_ecosystem
    assert {e.split(":")[0] for e in report.per_ecosystem} == {"Debian"}  # no Alpine


def test_changelog_gz_of_an_image_is_read_bounded() -> None:
    from secpipe.images.changelog import inflate

    text = inflate(gzip.compress(CHANGELOG.encode())).text
    assert "CVE-2023-4911" in text


DPKG = st.from_regex(r"\A([0-9]:)?[0-9][a-z0-9.+~]{0,6}(-[a-z0-9.+~]{1,4})?\Z", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(DPKG, DPKG)
def test_one_fixed_range_is_exactly_below_the_fix(installed: str, fixed: str) -> None:
    record = {"id": "DEBIAN-CVE-2024-0001", "modified": "2024-01-01T00:00:00Z",
              "affected": [{"package": {"ecosystem": "Debian:12", "name": "foo"},
                            "ranges": [{"type": "ECOSYSTEM",
                                        "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]}
    found = match([DistroPackage("foo", installed)], [record], BOOKWORM)
    if dpkg_compare(installed, fixed) < 0:
        [vuln] = found
        assert vuln.status is FixStatus.FIXED and vuln.fixed == fixed
    else:
        assert found == []


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["id", "modified", "affected", "package", "ecosystem", "name", "ranges",
                         "type", "events", "introduced", "fixed", "versions", "upstream",
                         "ecosystem_specific", "urgency", "status", "withdrawn"]),
        inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_hostile_records_are_refused_cleanly(record: Any) -> None:
    with contextlib.suppress(DistroMatchError):
        match([DistroPackage("foo", "1.0-1")], [record], BOOKWORM)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["introduced", "fixed", "last_affected", "limit"]), min_size=1,
                max_size=4),
       st.lists(st.text(min_size=1, max_size=12), min_size=4, max_size=4), JSON, JSON,
       st.text(max_size=12))
def test_hostile_values_in_a_valid_shape(kinds: list[str], values: list[str], specific: Any,
                                         db_specific: Any, installed: str) -> None:
    record = {"id": "DEBIAN-CVE-2024-0002", "modified": "2024-01-01T00:00:00Z",
              "affected": [{"package": {"ecosystem": "Debian:12", "name": "foo"},
                            "ecosystem_specific": specific, "database_specific": db_specific,
                            "ranges": [{"type": "ECOSYSTEM",
                                        "events": [{k: v} for k, v in zip(kinds, values,
                                                                           strict=False)]}]}]}
    try:
        found = match([DistroPackage("foo", installed or "1")], [record], BOOKWORM)
    except DistroMatchError:
        return
    assert all(v.status in FixStatus for v in found)


def test_the_image_inventory_packages_match_directly(records: list[dict[str, Any]]) -> None:
    from secpipe.images.pkg_model import Distro, Package

    distro = Distro("debian", "12", "bookworm")
    pkgs = [Package("deb", "libc6", "2.36-9+deb12u1", source_name="glibc", distro=distro),
            Package("pypi", "glibc", "0.1")]  # a Python package of the same name: not matched
    found = match(pkgs, records, Release.of(distro))
    assert {v.package for v in found} == {"libc6"}
    assert by_id(found)["CVE-2023-4911"].status is FixStatus.FIXED
