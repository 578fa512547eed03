"""Image package inventory: dpkg (status and distroless status.d), apk, rpm sqlite, Python, npm."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from test_inventory_fs import DictFs, RpmValue, rpm_header, rpm_package, rpmdb_sqlite

from secpipe.images import pkg_lang, pkg_rpm
from secpipe.images.inventory import (
    APK,
    DEB,
    NPM,
    PYPI,
    RPM,
    Distro,
    Problem,
    file_owners,
    inventory,
    read_distro,
)
from secpipe.images.pkg_rpm import RpmHeaderError, parse_header, split_sourcerpm

DEBIAN_OS = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n' \
            b'VERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n'
ALPINE_OS = b"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n"
FEDORA_OS = b"NAME=\"Fedora Linux\"\nID=fedora\nVERSION_ID=40\n"

STATUS = b"""\
Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.

Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl (3.0.11-1~deb12u2)
Version: 3.0.11-1~deb12u2+b1

Package: git
Status: deinstall ok config-files
Architecture: amd64
Version: 1:2.39.2-1.1

Package: bsdutils
Status: install ok triggers-pending
Architecture: amd64
Source: util-linux (2.38.1-5)
Version: 1:2.38.1-5+b1

Package: tzdata
Status: hold ok installed
Architecture: all
Version: 2024a-0+deb12u1
"""


def debian_fs(**extra: bytes) -> DictFs:
    files = {"/usr/lib/os-release": DEBIAN_OS, "/var/lib/dpkg/status": STATUS,
             "/var/lib/dpkg/info/libc6:amd64.list": b"/.\n/lib/x86_64-linux-gnu/libc.so.6\n",
             "/usr/share/doc/libc6/copyright":
                 b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
                 b"Files: *\nLicense: LGPL-2.1-or-later\n\nFiles: x\nLicense: GPL-2+\n"}
    files.update(extra)
    return DictFs(files, links={"/etc/os-release": "/usr/lib/os-release", "/lib": "/usr/lib"})


def test_dpkg_status_installed_packages_sources_and_distro() -> None:
    result = inventory(debian_fs())
    assert result.problems == ()
    assert result.distro == Distro("debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)")
    by_name = {p.name: p for p in result.packages}
    assert sorted(by_name) == ["bsdutils", "libc6", "libssl3", "tzdata"]  # git is removed
    libc = by_name["libc6"]
    assert (libc.ecosystem, libc.version, libc.source_name, libc.source_version, libc.arch) == (
        DEB, "2.36-9+deb12u4", "glibc", "2.36-9+deb12u4", "amd64")
    assert libc.files == ("/.", "/lib/x86_64-linux-gnu/libc.so.6")
    assert libc.licence == "LGPL-2.1-or-later AND GPL-2+"
    assert libc.locations == ("/var/lib/dpkg/status",)
    ssl = by_name["libssl3"]  # a binNMU: the source keeps its own version
    assert (ssl.version, ssl.source_name, ssl.source_version) == (
        "3.0.11-1~deb12u2+b1", "openssl", "3.0.11-1~deb12u2")
    assert by_name["bsdutils"].source_version == "2.38.1-5"
    assert by_name["bsdutils"].version == "1:2.38.1-5+b1"
    assert by_name["tzdata"].source_name == "tzdata"
    assert result.count(DEB) == 4


def test_distroless_status_d_one_stanza_per_file() -> None:
    fs = DictFs({
        "/etc/os-release": DEBIAN_OS,
        "/var/lib/dpkg/status.d/base-files": b"Package: base-files\nVersion: 12.4+deb12u5\n"
                                             b"Architecture: amd64\n",
        "/var/lib/dpkg/status.d/base-files.md5sums": b"abc  etc/debian_version\n",
        "/var/lib/dpkg/status.d/libssl3": b"Package: libssl3\nSource: openssl\n"
                                          b"Version: 3.0.13-1~deb12u1\nArchitecture: amd64\n",
    })
    result = inventory(fs)
    assert result.problems == ()
    assert [(p.name, p.source_name, p.locations[0]) for p in result.packages] == [
        ("base-files", "base-files", "/var/lib/dpkg/status.d/base-files"),
        ("libssl3", "openssl", "/var/lib/dpkg/status.d/libssl3")]
    assert all(p.distro and p.distro.release == "debian-12" for p in result.packages)


def test_malformed_stanzas_are_problems_and_dropped() -> None:
    bad = (b"Package: good\nStatus: install ok installed\nVersion: 1.0\n\n"
           b"Package: broken\nStatus: install ok installed\nthis line has no colon\n"
           b"Version: 2.0\n\n"
           b" continuation at the start\nPackage: orphan\nVersion: 3\n\n"
           b"Package: noversion\nStatus: install ok installed\n\n"
           b"Package: badsource\nStatus: install ok installed\nSource: a b c\nVersion: 4\n")
    result = inventory(DictFs({"/etc/os-release": DEBIAN_OS, "/var/lib/dpkg/status": bad}))
    assert [p.name for p in result.packages] == ["good", "badsource"]
    reasons = " | ".join(p.reason for p in result.problems)
    assert "not a 'Field: value' line" in reasons
    assert "continuation line outside a field" in reasons
    assert "missing or malformed Package/Version" in reasons
    assert "malformed Source field" in reasons
    assert result.packages[1].source_name == "badsource"


def test_oversized_status_file_is_a_problem_not_a_partial_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from secpipe.images import pkg_dpkg

    monkeypatch.setattr(pkg_dpkg, "MAX_STATUS_BYTES", 100)
    result = inventory(debian_fs())
    assert result.count(DEB) == 0
    assert any("larger than 100 bytes" in p.reason for p in result.problems)


def test_apk_installed_database() -> None:
    db = (b"C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\nS:400000\no:musl\nL:MIT\n"
          b"F:lib\nR:ld-musl-x86_64.so.1\nR:libc.musl-x86_64.so.1\n\n"
          b"P:libcrypto3\nV:3.3.2-r0\nA:x86_64\no:openssl\nL:Apache-2.0\nF:usr/lib\nR:libcrypto.so.3\n"
          b"\n"
          b"P:nover\nA:x86_64\n\n"
          b"P:junk\nV:1\nthis is not apk\n")
    result = inventory(DictFs({"/etc/os-release": ALPINE_OS, "/lib/apk/db/installed": db}))
    assert [(p.name, p.version, p.source_name, p.licence) for p in result.packages] == [
        ("musl", "1.2.5-r0", "musl", "MIT"), ("libcrypto3", "3.3.2-r0", "openssl", "Apache-2.0")]
    assert result.packages[0].files == ("/lib/ld-musl-x86_64.so.1", "/lib/libc.musl-x86_64.so.1")
    assert result.packages[1].distro == Distro("alpine", "3.20.3")
    assert result.count(APK) == 2
    assert len(result.problems) == 2


def test_rpm_sqlite_database(tmp_path: Path) -> None:
    blobs = [rpm_package("bash", "5.2.26", "3.fc40", licence="GPL-3.0-or-later"),
             rpm_package("openssl-libs", "3.2.2", "3.fc40", epoch=1,
                         srpm="openssl-3.2.2-3.fc40.src.rpm"),
             rpm_header({1000: "gpg-pubkey", 1001: "a15b79cc", 1002: "63d04c2c",
                        1022: "(none)"}),
             b"\x00\x00\x00\x05garbage"]
    fs = DictFs({"/etc/os-release": FEDORA_OS,
                 "/usr/lib/sysimage/rpm/rpmdb.sqlite": rpmdb_sqlite(tmp_path, blobs)},
                links={"/var/lib/rpm": "/usr/lib/sysimage/rpm"})
    result = inventory(fs)
    assert [(p.name, p.version, p.source_name, p.source_version, p.arch) for p in
            result.packages] == [
        ("bash", "5.2.26-3.fc40", "bash", "5.2.26-3.fc40", "x86_64"),
        ("openssl-libs", "1:3.2.2-3.fc40", "openssl", "1:3.2.2-3.fc40", "x86_64"),
        ("gpg-pubkey", "a15b79cc-63d04c2c", None, None, "(none)")]  # listed, as Syft does
    assert result.packages[0].licence == "GPL-3.0-or-later"
    assert result.count(RPM) == 3
    assert len(result.problems) == 1 and "package 4" in result.problems[0].reason


def test_rpm_header_parser_bounds() -> None:
    good = rpm_header({1000: "a", 1001: "1"})
    assert parse_header(good).evr == "1"
    with pytest.raises(RpmHeaderError):
        parse_header(good[:-3])  # truncated data
    with pytest.raises(RpmHeaderError):
        parse_header(struct.pack(">II", 0xFFFFFFF, 0))  # absurd index count
    lying = bytearray(good)
    struct.pack_into(">i", lying, 8 + 8, 10_000)  # NAME's offset far outside the data
    with pytest.raises(RpmHeaderError):
        parse_header(bytes(lying))
    unterminated = rpm_header({1000: "abc", 1001: "1"})[:-1] + b"x"
    with pytest.raises(RpmHeaderError):
        parse_header(unterminated)
    with pytest.raises(RpmHeaderError):
        parse_header(rpm_header({1001: "1"}))  # no NAME
    with pytest.raises(RpmHeaderError):
        parse_header(rpm_header({1000: 5, 1001: "1"}))  # NAME as an integer
    assert split_sourcerpm("glibc-2.34-100.el9.src.rpm") == ("glibc", "2.34-100.el9")
    assert split_sourcerpm("nonsense") is None


def test_rpm_file_lists() -> None:
    tags: dict[int, RpmValue] = {1000: "bash", 1001: "5.2", 1116: [0, 1, 1],
                                 1117: ["bash", "bashbug", "sh"], 1118: ["/usr/bin/", "/bin/"]}
    assert parse_header(rpm_header(tags)).files == ("/usr/bin/bash", "/bin/bashbug", "/bin/sh")
    with pytest.raises(RpmHeaderError, match="DIRINDEXES do not match"):
        parse_header(rpm_header({**tags, 1116: [0, 5, 1]}))
    with pytest.raises(RpmHeaderError, match="DIRINDEXES do not match"):
        parse_header(rpm_header({**tags, 1116: [0]}))
    lying = bytearray(rpm_header({1000: "a", 1001: "1", 1117: ["x"], 1116: [0],
                                  1118: ["/"]}))
    entry = 8 + 16 * 3  # the fourth entry (tags sorted: 1000, 1001, 1116, 1117): BASENAMES
    struct.pack_into(">i", lying, entry + 12, 1_000_000)  # claims a million strings
    with pytest.raises(RpmHeaderError, match="runs past the data"):
        parse_header(bytes(lying))


def test_rpm_not_sqlite_or_unsupported_formats(tmp_path: Path) -> None:
    result = inventory(DictFs({"/var/lib/rpm/rpmdb.sqlite": b"not a database at all" * 100}))
    assert result.count(RPM) == 0 and "rpm database" in result.problems[0].reason
    result = inventory(DictFs({"/var/lib/rpm/Packages": b"\x00\x06\x15\x61" + b"\0" * 60}))
    assert [p.reason for p in result.problems] == [
        "unsupported rpm database (BerkeleyDB): its packages are not inventoried"]
    result = inventory(DictFs({"/var/lib/rpm/Packages.db": b"RpmP" + b"\0" * 60}))
    assert "unsupported rpm database (ndb)" in result.problems[0].reason
    import sqlite3

    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE Other (x)")
    conn.execute("CREATE VIEW Packages AS SELECT x AS blob FROM Other")
    conn.commit()
    conn.close()
    result = inventory(DictFs({"/var/lib/rpm/rpmdb.sqlite": path.read_bytes()}))
    assert "without a Packages table" in result.problems[0].reason


def test_rpm_sqlite_time_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pkg_rpm, "SQLITE_SECONDS", -1.0)
    blobs = [rpm_package(f"p{i}", "1", "1") for i in range(3000)]
    result = inventory(DictFs({"/var/lib/rpm/rpmdb.sqlite": rpmdb_sqlite(tmp_path, blobs)}))
    assert result.count(RPM) == 0
    assert "does not read" in result.problems[0].reason


def test_python_dist_info_and_egg_info_anywhere() -> None:
    metadata = (b"Metadata-Version: 2.1\nName: Requests\nVersion: 2.32.3\nLicense: Apache-2.0\n"
                b"\nlong description\n")
    files = {
        "/usr/local/lib/python3.12/site-packages/requests-2.32.3.dist-info/METADATA": metadata,
        "/usr/local/lib/python3.12/site-packages/requests/__init__.py": b"",
        "/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO":
            b"Metadata-Version: 1.2\nName: six\nVersion: 1.16.0\n"
            b"Classifier: License :: OSI Approved :: MIT License\n",
        "/usr/lib/python3/dist-packages/old.egg-info":
            b"Metadata-Version: 1.0\nName: old\nVersion: 0.1\nLicense: UNKNOWN LICENSE TEXT\n",
        "/usr/local/lib/python3.12/site-packages/setuptools/_vendor/zipp-3.19.2.dist-info/METADATA":
            b"Name: zipp\nVersion: 3.19.2\nLicense-Expression: MIT\n",
        "/usr/local/lib/python3.12/site-packages/broken-1.dist-info/METADATA": b"Name: broken\n",
    }
    result = inventory(DictFs(files, links={"/lib": "/usr/lib"}))
    got = sorted((p.name, p.version, p.licence) for p in result.packages)
    assert got == [("Requests", "2.32.3", "Apache-2.0"), ("old", "0.1", "UNKNOWN LICENSE TEXT"),
                   ("six", "1.16.0", "MIT License"), ("zipp", "3.19.2", "MIT")]
    assert all(p.ecosystem == PYPI and p.distro is None for p in result.packages)
    assert [p.reason for p in result.problems] == ["Python metadata without Name or Version"]


def test_python_file_ownership_from_record_and_installed_files() -> None:
    site = "/usr/local/lib/python3.12/site-packages"
    files = {
        f"{site}/pip-24.0.dist-info/METADATA": b"Name: pip\nVersion: 24.0\n",
        f"{site}/pip-24.0.dist-info/RECORD": b"pip/__init__.py,sha256=abc,10\n"
                                             b'"pip/a,b.py",,\n../../../bin/pip,,\n\n',
        "/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO":
            b"Name: six\nVersion: 1.16.0\n",
        "/usr/lib/python3/dist-packages/six-1.16.0.egg-info/installed-files.txt":
            b"../six.py\nPKG-INFO\n",
    }
    by_name = {p.name: p for p in inventory(DictFs(files)).packages}
    assert by_name["pip"].files == (f"{site}/pip/__init__.py", f"{site}/pip/a,b.py",
                                    "/usr/local/bin/pip")
    assert by_name["six"].files == ("/usr/lib/python3/dist-packages/six.py",
                                    "/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO")


def test_node_modules_scoped_and_nested() -> None:
    def pj(doc: object) -> bytes:
        return json.dumps(doc).encode()

    root = "/app/node_modules"
    files = {
        "/app/package.json": pj({"name": "my-app", "version": "1.0.0"}),
        f"{root}/express/package.json": pj({"name": "express", "version": "4.19.2",
                                           "license": "MIT"}),
        f"{root}/express/node_modules/debug/package.json": pj({"name": "debug",
                                                              "version": "2.6.9"}),
        f"{root}/@babel/core/package.json": pj({"name": "@babel/core", "version": "7.24.0",
                                               "licenses": [{"type": "MIT"}]}),
        f"{root}/.bin/express": b"#!/bin/sh\n",
        f"{root}/bad/package.json": b"{not json",
        f"{root}/noname/package.json": pj({"version": "1"}),
        f"{root}/array/package.json": pj([1, 2]),
        f"{root}/@babel/core/lib/package.json": pj({"name": "bundled", "version": "0.1.0"}),
        f"{root}/express/test/fixtures/package.json": pj({"private": True}),
        "/srv/data/package.json": b"not json, not a package: no problem",
    }
    result = inventory(DictFs(files))
    assert sorted((p.name, p.version, p.licence) for p in result.packages) == [
        ("@babel/core", "7.24.0", "MIT"), ("bundled", "0.1.0", None), ("debug", "2.6.9", None),
        ("express", "4.19.2", "MIT"), ("my-app", "1.0.0", None)]  # any named package.json
    assert all(p.ecosystem == NPM for p in result.packages)
    assert len(result.problems) == 3


def test_walk_does_not_follow_links_and_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    meta = b"Name: a\nVersion: 1\n"
    fs = DictFs({"/usr/lib/python3/dist-packages/a-1.dist-info/METADATA": meta},
                links={"/lib": "/usr/lib", "/usr/lib/loop": "/usr"})
    assert [p.name for p in inventory(fs).packages] == ["a"]  # once, not again through /lib
    monkeypatch.setattr(pkg_lang, "MAX_DEPTH", 2)
    result = inventory(fs)
    assert result.packages == () and "deeper than 2 folders" in result.problems[0].reason
    monkeypatch.setattr(pkg_lang, "MAX_DEPTH", 64)
    monkeypatch.setattr(pkg_lang, "MAX_WALK_ENTRIES", 2)
    assert "walk stopped after 2 entries" in inventory(fs).problems[0].reason


def test_os_release_quoting_and_missing() -> None:
    problems: list[Problem] = []
    fs = DictFs({"/etc/os-release": b"ID='ubuntu'\nVERSION_ID=\"24.04\"\n# c\n"
                                    b"PRETTY_NAME=\"Ubuntu \\\"Noble\\\"\"\n"})
    distro = read_distro(fs, problems)
    assert distro == Distro("ubuntu", "24.04", None, 'Ubuntu "Noble"')
    assert distro.release == "ubuntu-24.04"
    assert read_distro(DictFs({"/etc/os-release": b"NAME=x\n"}), problems) is None
    assert problems[0].reason == "os-release without ID"
    result = inventory(DictFs({"/var/lib/dpkg/status": STATUS}))
    assert result.distro is None and "no os-release" in result.problems[-1].reason


def test_file_owners_and_cancel() -> None:
    import threading

    result = inventory(debian_fs())
    owners = file_owners(result.packages)
    assert [p.name for p in owners["/lib/x86_64-linux-gnu/libc.so.6"]] == ["libc6"]
    cancel = threading.Event()
    cancel.set()
    cancelled = inventory(debian_fs(), cancel=cancel)
    assert cancelled.problems[-1].reason.startswith("cancelled")


def test_empty_filesystem() -> None:
    result = inventory(DictFs({}))
    assert result.packages == () and result.problems == () and result.databases == ()
