"""Pending (security) updates of dpkg packages against apt ``Packages`` indexes built by code."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import io
import lzma
import os
import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from image_builders import build_oci_layout

from secpipe.core.errors import InputError
from secpipe.core.findings import Severity
from secpipe.images import apt_pending as ap
from secpipe.images.inventory import inventory
from secpipe.images.layers import apply_layers
from secpipe.images.layout import open_image
from secpipe.images.pkg_filetree import FileTreeView
from secpipe.images.pkg_model import DEB, PYPI, Distro, ImageInventory, Package

BOOKWORM = Distro(id="debian", version_id="12", codename="bookworm")
NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
SEC_LIST = "deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages"
MAIN_LIST = "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"
UPDATES_LIST = "deb.debian.org_debian_dists_bookworm-updates_main_binary-amd64_Packages"
DEBIAN_OS = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\n' \
            b'VERSION_CODENAME=bookworm\nID=debian\n'


def stanza(name: str, version: str, arch: str = "amd64", source: str | None = None,
           extra: str = "") -> str:
    text = f"Package: {name}\n"
    if source:
        text += f"Source: {source}\n"
    text += f"Version: {version}\nArchitecture: {arch}\nMaintainer: Someone <a@b.c>\n"
    text += "Description: a package\n multi-line description\n .\n more\n" + extra
    return text


def index(*stanzas: str) -> bytes:
    return "\n".join(stanzas).encode()


def release(date: str, suite: str = "bookworm-security", label: str = "Debian-Security",
            signed: bool = True, codename: str = "bookworm-security",
            origin: str = "Debian") -> bytes:
    body = (f"Origin: {origin}\nLabel: {label}\nSuite: {suite}\nCodename: {codename}\n"
            f"Date: {date}\nValid-Until: {date}\nArchitectures: amd64\nComponents: main\n"
            "SHA256:\n 0123 100 main/binary-amd64/Packages\n")
    if not signed:
        return body.encode()
    return ("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" + body
            + "-----BEGIN PGP SIGNATURE-----\n\niQIzBAEBCgAdFiEE\n-----END PGP SIGNATURE-----\n"
            ).encode()


def deb(name: str, version: str, arch: str | None = "amd64", source: str | None = None
        ) -> Package:
    return Package(ecosystem=DEB, name=name, version=version, source_name=source or name,
                   source_version=version, arch=arch, distro=BOOKWORM,
                   locations=("/var/lib/dpkg/status",))


def inv(*packages: Package) -> ImageInventory:
    return ImageInventory(packages=packages, problems=(), distro=BOOKWORM,
                          databases=("/var/lib/dpkg/status",))


def mirror(tmp_path: Path, suite: str, data: bytes, *, compression: str = "",
           release_data: bytes | None = None, arch: str = "amd64") -> Path:
    folder = tmp_path / "mirror" / "dists" / suite / "main" / f"binary-{arch}"
    folder.mkdir(parents=True, exist_ok=True)
    name = "Packages" + compression
    payload = {"": data, ".gz": gzip.compress(data), ".xz": lzma.compress(data),
               ".bz2": bz2.compress(data)}[compression]
    (folder / name).write_bytes(payload)
    if release_data is not None:
        (tmp_path / "mirror" / "dists" / suite / "InRelease").write_bytes(release_data)
    return folder / name


# ---------------------------------------------------------------- reading


@pytest.mark.parametrize("compression", ["", ".gz", ".xz", ".bz2"])
def test_plain_and_compressed_indexes_read_the_same(tmp_path: Path, compression: str) -> None:
    data = index(stanza("libssl3", "3.0.15-1~deb12u1", source="openssl"),
                 stanza("openssl", "3.0.15-1~deb12u1"),
                 stanza("tzdata", "2024b-0+deb12u1", arch="all"))
    path = mirror(tmp_path, "bookworm-security", data, compression=compression)
    indexes, problems, _ = ap.read_indexes(None, [path])
    assert problems == []
    (one,) = indexes
    assert one.suite == "bookworm-security" and one.component == "main" and one.security
    assert one.stanzas == 3 and one.malformed == 0 and one.complete
    assert one.entries[("libssl3", "amd64")] == ap.Candidate("3.0.15-1~deb12u1", "openssl",
                                                             "3.0.15-1~deb12u1")
    assert one.entries[("tzdata", "all")].version == "2024b-0+deb12u1"


def test_a_folder_is_searched_and_the_release_date_read(tmp_path: Path) -> None:
    mirror(tmp_path, "bookworm-security", index(stanza("aa", "1.0-2")), compression=".xz",
           release_data=release("Sat, 01 Aug 2026 10:00:00 UTC"))
    mirror(tmp_path, "bookworm", index(stanza("aa", "1.0-1")), compression=".gz")
    indexes, problems, _ = ap.read_indexes(None, [tmp_path / "mirror"])
    assert problems == []
    by_suite = {i.suite: i for i in indexes}
    assert set(by_suite) == {"bookworm", "bookworm-security"}
    sec = by_suite["bookworm-security"]
    assert sec.security and sec.date == dt.datetime(2026, 8, 1, 10, 0, tzinfo=dt.UTC)
    assert sec.release.endswith("dists/bookworm-security/InRelease")
    assert sec.age_days(NOW) == pytest.approx(125.08, abs=0.01)
    assert not by_suite["bookworm"].security and by_suite["bookworm"].date is None


def test_apt_lists_file_names() -> None:
    parts = ap._index_name_parts
    assert parts(SEC_LIST) == ("bookworm-security", "main",
                               "deb.debian.org_debian-security_dists_bookworm-security_")
    assert parts(SEC_LIST + ".lz4")[0] == "bookworm-security"  # type: ignore[index]
    buster = "security.debian.org_debian-security_dists_buster_updates_main_binary-amd64_Packages"
    assert parts(buster)[:2] == ("buster/updates", "main")  # type: ignore[index]
    assert ap.is_security_suite("buster/updates")
    assert ap.is_security_suite("jammy-security")
    assert not ap.is_security_suite("bookworm-updates")  # stable-updates is not security
    assert not ap.is_security_suite("bookworm")
    assert parts(MAIN_LIST + ".diff_Index") is None
    assert parts("deb.debian.org_debian_dists_bookworm_main_i18n_Translation-en") is None
    assert parts("deb.debian.org_debian_dists_bookworm_InRelease") is None
    label_only = ap.parse_release(release("Sat, 01 Aug 2026 10:00:00 UTC", suite="x",
                                          label="Debian-Security"))
    assert ap.is_security_suite("", label_only)


def test_release_parsing_is_lenient() -> None:
    info = ap.parse_release(release("not a date", signed=False))
    assert info.date is None and info.suite == "bookworm-security"
    assert ap.parse_release(b"\xff\x00garbage").date is None
    naive = ap.parse_release(b"Date: Sat, 01 Aug 2026 10:00:00\n")
    assert naive.date is not None and naive.date.tzinfo is not None


# ---------------------------------------------------------------- versions


def test_epochs_and_tildes_are_ordered_as_dpkg_does(tmp_path: Path) -> None:
    data = index(
        stanza("epoch", "2.1-1"),            # installed 1:2.0-1: the epoch wins, no update
        stanza("tilde", "1.0-1"),            # installed 1.0~rc1-1: ~ sorts first, an update
        stanza("same", "1.0-1"),             # installed 1.0-1: nothing
        stanza("older", "0.9-1"),            # installed 1.0-1: nothing
        stanza("debu", "2.36-9+deb12u7", source="glibc (2.36-9+deb12u7)"),
        stanza("bump", "1:1.0-1"))           # installed 1.5-1: the epoch makes it newer
    path = mirror(tmp_path, "bookworm-security", data)
    report = ap.check_pending(inv(deb("epoch", "1:2.0-1"), deb("tilde", "1.0~rc1-1"),
                                  deb("same", "1.0-1"), deb("older", "1.0-1"),
                                  deb("debu", "2.36-9+deb12u4", source="glibc"),
                                  deb("bump", "1.5-1")), None, [path])
    got = {u.package: u for u in report.updates}
    assert set(got) == {"tilde", "debu", "bump"}
    assert got["tilde"].available == "1.0-1" and got["tilde"].security
    assert got["debu"].source == "glibc" and got["debu"].security_version == "2.36-9+deb12u7"
    assert got["bump"].available == "1:1.0-1"
    assert report.checked == 6 and report.problems == ()


def test_same_package_in_two_suites_newest_wins(tmp_path: Path) -> None:
    sec = mirror(tmp_path, "bookworm-security",
                 index(stanza("openssl", "3.0.14-1~deb12u1"), stanza("curl", "7.88.1-10+deb12u5"),
                       stanza("zlib1g", "1:1.2.13.dfsg-1+deb12u1")))
    main = mirror(tmp_path, "bookworm",
                  index(stanza("openssl", "3.0.15-1~deb12u1"), stanza("curl", "7.88.1-10+deb12u5"),
                        stanza("zlib1g", "1:1.2.13.dfsg-1"), stanza("bash", "5.2.15-2+b7"),
                        stanza("openssl", "3.0.11-1~deb12u2")))
    report = ap.check_pending(inv(deb("openssl", "3.0.11-1~deb12u2"), deb("curl", "7.88.1-10"),
                                  deb("zlib1g", "1:1.2.13.dfsg-1"), deb("bash", "5.2.15-2+b2")),
                              None, [main, sec])
    got = {u.package: u for u in report.updates}
    # newest overall from the main suite; still a security update (security offers one too)
    assert got["openssl"].available == "3.0.15-1~deb12u1"
    assert got["openssl"].index == str(main)
    assert got["openssl"].security and got["openssl"].security_version == "3.0.14-1~deb12u1"
    assert got["openssl"].security_index == str(sec)
    # the same version in both: counted as the security suite's
    assert got["curl"].index == str(sec) and got["curl"].security
    assert got["zlib1g"].security and got["zlib1g"].available == "1:1.2.13.dfsg-1+deb12u1"
    assert not got["bash"].security and got["bash"].security_version == ""
    assert len(report.security_updates) == 3
    assert "3 security, 1 other, of 4 dpkg packages against 2 apt index(es)" in report.note()


def test_architecture_mismatch_is_ignored(tmp_path: Path) -> None:
    data = index(stanza("libc6", "2.36-9+deb12u9", arch="arm64"),
                 stanza("libc6", "2.36-9+deb12u9", arch="i386"),
                 stanza("libc6", "2.36-9+deb12u5", arch="amd64"),
                 stanza("tzdata", "2025a-0+deb12u1", arch="all"),
                 stanza("python3-six", "1.16.0-5", arch="all"),
                 stanza("noarch", "2.0-1", arch="s390x"))
    path = mirror(tmp_path, "bookworm-security", data)
    report = ap.check_pending(inv(deb("libc6", "2.36-9+deb12u4"),
                                  deb("libc6", "2.36-9+deb12u4", arch="i386"),
                                  deb("tzdata", "2024a-0+deb12u1", arch="all"),
                                  deb("python3-six", "1.16.0-4", arch="amd64"),
                                  deb("noarch", "1.0-1", arch="all")), None, [path])
    got = {(u.package, u.architecture): u.available for u in report.updates}
    assert got == {("libc6", "amd64"): "2.36-9+deb12u5", ("libc6", "i386"): "2.36-9+deb12u9",
                   ("tzdata", "all"): "2025a-0+deb12u1",
                   ("python3-six", "amd64"): "1.16.0-5"}  # arch-specific may become all


def test_bad_installed_version_is_a_problem_not_a_pass(tmp_path: Path) -> None:
    path = mirror(tmp_path, "bookworm-security", index(stanza("xx", "2-1")))
    report = ap.check_pending(inv(deb("xx", "not a version!")), None, [path])
    assert report.updates == ()
    assert any("cannot be ordered" in p.reason for p in report.problems)
    found = ap.pending_findings(report, "img")
    assert [f.rule_id for f in found] == ["image.incomplete"]


def test_no_dpkg_packages_or_no_index(tmp_path: Path) -> None:
    lang = Package(ecosystem=PYPI, name="x", version="1")
    empty = ap.check_pending(inv(lang), None, [])
    assert empty.checked == 0 and empty.indexes == ()
    none = ap.check_pending(inv(deb("aa", "1-1")), None, [])
    assert none.checked == 1 and none.updates == () and "no apt Packages index" in none.note()
    assert ap.pending_findings(none, "img") == []


def test_an_index_of_another_release_is_not_used(tmp_path: Path) -> None:
    path = mirror(tmp_path, "trixie-security", index(stanza("aa", "9-1")))
    report = ap.check_pending(inv(deb("aa", "1-1")), None, [path])
    assert report.updates == () and report.indexes == () and report.problems == ()
    (skipped,) = report.skipped
    assert "trixie-security" in skipped.reason and "bookworm" in skipped.reason
    assert "1 index(es) of another release left out" in report.note()
    assert ap.pending_findings(report, "img") == []  # it does not apply: not incomplete
    alias = mirror(tmp_path / "alias", "stable-security", index(stanza("aa", "9-1")))
    assert ap.check_pending(inv(deb("aa", "1-1")), None, [alias]).updates  # alias: used
    third = mirror(tmp_path / "third", "nodistro", index(stanza("aa", "9-1")))
    assert ap.check_pending(inv(deb("aa", "1-1")), None, [third]).updates  # third party
    # a Debian Release's Codename decides, whatever the folder is called
    date = "Tue, 01 Dec 2026 08:00:00 UTC"
    vendor = mirror(tmp_path / "vendor", "weird", index(stanza("aa", "9-1")),
                    release_data=release(date, suite="testing", codename="trixie"))
    assert ap.check_pending(inv(deb("aa", "1-1")), None, [vendor]).skipped
    other = mirror(tmp_path / "other", "weird", index(stanza("aa", "9-1")),
                   release_data=release(date, suite="x", codename="trixie", origin="Acme"))
    assert ap.check_pending(inv(deb("aa", "1-1")), None, [other]).updates  # not Debian's


# ---------------------------------------------------------------- user paths


def test_user_paths_that_are_not_indexes_raise(tmp_path: Path) -> None:
    with pytest.raises(ap.AptIndexError, match="No such file"):
        ap.read_indexes(None, [tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ap.AptIndexError, match="no Packages index"):
        ap.read_indexes(None, [tmp_path / "empty"])
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ap.AptIndexError, match="not a regular file"):
        ap.read_indexes(None, [fifo])
    assert issubclass(ap.AptIndexError, InputError)


def test_walk_does_not_follow_links_and_is_bounded(tmp_path: Path) -> None:
    real = mirror(tmp_path, "bookworm", index(stanza("aa", "2-1")))
    (tmp_path / "mirror" / "loop").symlink_to(tmp_path / "mirror")
    (tmp_path / "mirror" / "Packages.lnk").symlink_to(real)
    assert ap.user_index_files([tmp_path / "mirror"]) == [real]
    deep = tmp_path / "deep"
    folder = deep
    for n in range(12):
        folder = folder / f"d{n}"
    folder.mkdir(parents=True)
    (folder / "Packages").write_bytes(index(stanza("aa", "2-1")))
    with pytest.raises(ap.AptIndexError):
        ap.user_index_files([deep])  # below max_walk_depth: not found


# ---------------------------------------------------------------- hostile indexes


def _read(data: bytes, limits: ap.IndexLimits | None = None) -> ap.ParsedIndex:
    return ap.parse_packages(io.BytesIO(data), limits=limits or ap.IndexLimits())


def test_a_huge_line_drops_its_stanza_only(tmp_path: Path) -> None:
    huge = "Description: " + "x" * (3 << 20) + "\n"
    data = index(stanza("aa", "2-1"), f"Package: b\nVersion: 2-1\nArchitecture: amd64\n{huge}",
                 stanza("cc", "2-1"))
    parsed = _read(data)
    assert set(parsed.entries) == {("aa", "amd64"), ("cc", "amd64")}
    assert parsed.stanzas == 3 and parsed.malformed == 1 and parsed.complete
    assert "longer than" in parsed.problems[0]
    # a huge line without any newline at the end of the file
    tail = _read(index(stanza("aa", "2-1")) + b"\nPackage: " + b"y" * (1 << 20))
    assert set(tail.entries) == {("aa", "amd64")} and tail.malformed == 1


def test_binary_junk_is_counted_never_a_crash(tmp_path: Path) -> None:
    rng = random.Random(14)
    junk = bytes(rng.randrange(256) for _ in range(200_000))
    data = index(stanza("aa", "2-1")) + b"\n" + junk + b"\n\n" + index(stanza("cc", "2-1"))
    parsed = _read(data)
    assert ("aa", "amd64") in parsed.entries and ("cc", "amd64") in parsed.entries
    assert parsed.malformed >= 1
    bad_fields = index(
        "Package: UPPER\nVersion: 1-1\nArchitecture: amd64\n",
        "Package: v\nVersion: 1:\nArchitecture: amd64\n",
        "Package: w\nVersion: 1-1\nArchitecture: am d64\n",
        "Package: n\nArchitecture: amd64\n",
        "Package: d\nVersion: 1-1\nVersion: 9-1\nArchitecture: amd64\n",
        "Package: s\nSource: bad source (x y)\nVersion: 1-1\nArchitecture: amd64\n",
        " leading continuation\nPackage: e\nVersion: 1-1\nArchitecture: amd64\n",
        "Package: caf\u00e9\nVersion: 1-1\nArchitecture: amd64\n",
        "Package: ok\nVersion: 1-1\nArchitecture: amd64\n")
    parsed = _read(bad_fields)
    assert set(parsed.entries) == {("ok", "amd64")}
    assert parsed.stanzas == 9 and parsed.malformed == 8


def test_a_million_stanzas_stop_at_the_bound(tmp_path: Path) -> None:
    one = b"Package: pp\nVersion: 1-1\nArchitecture: amd64\n\n"
    data = gzip.compress(one * 1_000_000, compresslevel=1)
    path = tmp_path / "dists" / "bookworm" / "main" / "binary-amd64" / "Packages.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    started = time.monotonic()
    indexes, problems, _ = ap.read_indexes(None, [path], limits=ap.IndexLimits(max_stanzas=20_000))
    assert time.monotonic() - started < 2.5
    (one_index,) = indexes
    assert one_index.stanzas == 20_000 and not one_index.complete
    assert any("more than 20000 stanzas" in p.reason for p in problems)
    report = ap.PendingReport((), tuple(indexes), tuple(problems), 0)
    (finding,) = ap.pending_findings(report, "img")
    assert finding.rule_id == "image.incomplete" and finding.severity == Severity.HIGH


def test_decompression_bomb_and_corrupt_streams(tmp_path: Path) -> None:
    bomb = gzip.compress(b"\n" * (8 << 20))
    folder = tmp_path / "dists" / "bookworm" / "main" / "binary-amd64"
    folder.mkdir(parents=True)
    (folder / "Packages.gz").write_bytes(bomb)
    _, problems, _ = ap.read_indexes(None, [folder / "Packages.gz"],
                                  limits=ap.IndexLimits(max_bytes=1 << 20))
    assert any("uncompressed bytes" in p.reason for p in problems)
    good = gzip.compress(index(*(stanza(f"p{n}", "1-1") for n in range(2000))))
    (folder / "Packages.gz").write_bytes(good[: len(good) // 2])  # truncated
    indexes, problems, _ = ap.read_indexes(None, [folder / "Packages.gz"])
    assert not indexes[0].complete and any("truncated" in p.reason for p in problems)
    (folder / "Packages.gz").write_bytes(b"\x1f\x8b" + b"\x00" * 100)  # not gzip inside
    indexes, problems, _ = ap.read_indexes(None, [folder / "Packages.gz"])
    assert not indexes[0].complete and problems
    (folder / "Packages.gz").write_bytes(b"\x04\x22\x4d\x18" + b"\x00" * 32)  # lz4 frame
    indexes, problems, _ = ap.read_indexes(None, [folder / "Packages.gz"])
    assert not indexes[0].complete
    assert any("Lz4Error" in p.reason for p in problems)


def test_index_bounds_on_size_and_count(tmp_path: Path) -> None:
    path = mirror(tmp_path, "bookworm", index(stanza("aa", "2-1")) * 50)
    _, problems, _ = ap.read_indexes(None, [path], limits=ap.IndexLimits(max_compressed_bytes=100))
    assert any("over the bound" in p.reason for p in problems)
    paths = [mirror(tmp_path / f"m{n}", "bookworm", index(stanza("aa", "2-1"))) for n in range(4)]
    indexes, problems, _ = ap.read_indexes(None, paths, limits=ap.IndexLimits(max_indexes=2))
    assert len(indexes) == 2 and any("more than 2 indexes" in p.reason for p in problems)


# ---------------------------------------------------------------- findings


def test_findings_rules_severities_and_fingerprints(tmp_path: Path) -> None:
    sec = mirror(tmp_path, "bookworm-security", index(stanza("openssl", "3.0.15-1~deb12u1")),
                 release_data=release("Sat, 01 Aug 2026 10:00:00 UTC"))
    main = mirror(tmp_path, "bookworm", index(stanza("bash", "5.2.15-2+b7")))
    report = ap.check_pending(inv(deb("openssl", "3.0.11-1~deb12u2"),
                                  deb("bash", "5.2.15-2+b2")), None, [sec, main])
    found = ap.pending_findings(report, "app:1", max_index_age_days=30, now=NOW)
    by_rule = {f.rule_id: f for f in found}
    assert set(by_rule) == {"image.pending-security-update", "image.pending-update",
                            "image.apt-index-stale"}
    security = by_rule["image.pending-security-update"]
    assert security.severity == Severity.MEDIUM and security.scanner == "scan-image"
    assert security.location.path == "var/lib/dpkg/status"
    assert security.location.member == "openssl@3.0.11-1~deb12u2"
    props = dict(security.properties)
    assert props["available"] == "3.0.15-1~deb12u1" and props["security"] == "true"
    assert props["suite"] == "bookworm-security" and props["index"] == str(sec)
    assert "pending security update to 3.0.15-1~deb12u1" in security.message
    other = by_rule["image.pending-update"]
    assert other.severity == Severity.INFO and dict(other.properties)["security"] == "false"
    stale = by_rule["image.apt-index-stale"]
    assert stale.severity == Severity.LOW and "125 days old" in stale.message
    assert len({f.fingerprint for f in found}) == 3
    again = ap.pending_findings(report, "app:1", max_index_age_days=30, now=NOW)
    assert [f.fingerprint for f in again] == [f.fingerprint for f in found]
    assert not any(f.rule_id == "image.apt-index-stale"
                   for f in ap.pending_findings(report, "app:1", max_index_age_days=None))
    assert not any(f.rule_id == "image.apt-index-stale"
                   for f in ap.pending_findings(report, "app:1", max_index_age_days=200,
                                                now=NOW))


# ---------------------------------------------------------------- an image's own lists

STATUS = b"""\
Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl (3.0.11-1~deb12u2)
Version: 3.0.11-1~deb12u2

Package: bash
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b2

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2024a-0+deb12u1
"""


def test_an_images_own_apt_lists(tmp_path: Path) -> None:
    lists = "var/lib/apt/lists"
    sec_index = index(stanza("libssl3", "3.0.15-1~deb12u1", source="openssl"))
    layer = {
        "etc/os-release": DEBIAN_OS,
        "var/lib/dpkg/status": STATUS,
        f"{lists}/{SEC_LIST}.gz": gzip.compress(sec_index),
        f"{lists}/deb.debian.org_debian-security_dists_bookworm-security_InRelease":
            release("Tue, 01 Dec 2026 08:00:00 UTC"),
        f"{lists}/{MAIN_LIST}": index(stanza("bash", "5.2.15-2+b7"),
                                      stanza("libssl3", "3.0.11-1~deb12u2")),
        f"{lists}/{UPDATES_LIST}.xz": lzma.compress(index(stanza("tzdata", "2025a-0+deb12u1",
                                                                 arch="all"))),
        f"{lists}/deb.debian.org_debian_dists_bookworm_main_i18n_Translation-en": b"junk",
        f"{lists}/lock": b"",
        f"{lists}/partial/x_Packages": b"ignored: not at the top",
    }
    build_oci_layout(tmp_path, [layer])
    with apply_layers(open_image(tmp_path)) as tree:
        inventory_ = inventory(FileTreeView(tree))
        report = ap.check_pending(inventory_, tree)
    assert report.problems == ()
    names = {i.name: i for i in report.indexes}
    assert set(names) == {f"/{lists}/{SEC_LIST}.gz", f"/{lists}/{MAIN_LIST}",
                          f"/{lists}/{UPDATES_LIST}.xz"}
    sec = names[f"/{lists}/{SEC_LIST}.gz"]
    assert sec.security and sec.origin == "image"
    assert sec.date == dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
    assert not names[f"/{lists}/{UPDATES_LIST}.xz"].security
    got = {u.package: u for u in report.updates}
    assert set(got) == {"libssl3", "bash", "tzdata"}
    assert got["libssl3"].security and got["libssl3"].source == "openssl"
    assert not got["bash"].security and not got["tzdata"].security
    assert got["tzdata"].suite == "bookworm-updates"
    found = ap.pending_findings(report, "img", now=NOW)
    assert sorted(f.rule_id for f in found) == ["image.pending-security-update",
                                               "image.pending-update", "image.pending-update"]


def test_an_image_with_a_hostile_list_reports_it(tmp_path: Path) -> None:
    lists = "var/lib/apt/lists"
    layer = {
        "etc/os-release": DEBIAN_OS,
        "var/lib/dpkg/status": STATUS,
        f"{lists}/{SEC_LIST}.gz": b"\x1f\x8b\x08\x00 not really gzip",
        f"{lists}/{MAIN_LIST}": b"\x00\x01\x02\n\xff\xfe\n\nPackage: bash\nVersion: 9-1\n"
                                b"Architecture: amd64\n",
    }
    build_oci_layout(tmp_path, [layer])
    with apply_layers(open_image(tmp_path)) as tree:
        report = ap.check_pending(inventory(FileTreeView(tree)), tree)
    assert [u.package for u in report.updates] == ["bash"]
    assert {p.index for p in report.problems} == {f"/{lists}/{SEC_LIST}.gz",
                                                  f"/{lists}/{MAIN_LIST}"}
    found = ap.pending_findings(report, "img")
    assert sum(f.rule_id == "image.incomplete" for f in found) == 2


# ---------------------------------------------------------------- lz4 (apt's GzipIndexes=lz4)


def _lz4_length(n: int) -> bytes:
    out = bytearray()
    while n >= 255:
        out.append(255)
        n -= 255
    out.append(n)
    return bytes(out)


def lz4_block_encode(data: bytes, window: bytes = b"") -> bytes:
    """A small greedy LZ4 block encoder (test side only): 4-byte hash matches, overlapping
    matches included, the last 5 bytes left as literals."""
    buf = window + data
    pos = anchor = len(window)
    table: dict[bytes, int] = {}
    for i in range(max(0, len(window) - 65535), max(0, len(window) - 3)):
        table[buf[i:i + 4]] = i
    end = len(buf)
    out = bytearray()

    def emit(literals: bytes, offset: int, match: int) -> None:
        lit = len(literals)
        token = (min(lit, 15) << 4) | (min(match - 4, 15) if match else 0)
        out.append(token)
        if lit >= 15:
            out.extend(_lz4_length(lit - 15))
        out.extend(literals)
        if match:
            out.extend(offset.to_bytes(2, "little"))
            if match - 4 >= 15:
                out.extend(_lz4_length(match - 4 - 15))

    while pos + 4 <= end - 5:
        key = buf[pos:pos + 4]
        cand = table.get(key)
        table[key] = pos
        if cand is not None and pos - cand <= 65535:
            length = 4
            while pos + length < end - 5 and buf[cand + length] == buf[pos + length]:
                length += 1
            emit(buf[anchor:pos], pos - cand, length)
            pos += length
            anchor = pos
        else:
            pos += 1
    emit(buf[anchor:end], 0, 0)
    return bytes(out)


def lz4_frame(data: bytes, *, linked: bool = True, block: int = 64 << 10,
              raw_blocks: bool = False, content_checksum: bool = True) -> bytes:
    flg = 0x40 | (0 if linked else 0x20) | (0x04 if content_checksum else 0)
    out = bytearray((0x184D2204).to_bytes(4, "little") + bytes([flg, 0x40, 0x00]))
    window = b""
    for start in range(0, len(data), block):
        chunk = data[start:start + block]
        if raw_blocks:
            out += (len(chunk) | 0x80000000).to_bytes(4, "little") + chunk
        else:
            body = lz4_block_encode(chunk, window if linked else b"")
            out += len(body).to_bytes(4, "little") + body
        window = (window + chunk)[-65536:]
    out += b"\x00\x00\x00\x00" + (b"\xde\xad\xbe\xef" if content_checksum else b"")
    return bytes(out)


def _decode(blob: bytes) -> bytes:
    return ap.Lz4FrameReader(io.BytesIO(blob)).readall()


BIG_INDEX = index(*(stanza(f"pkg{n % 700}", f"1.{n}-1", source=f"src{n % 50} (1.{n}-1)")
                    for n in range(3000)))


@pytest.mark.parametrize("linked", [True, False])
def test_lz4_frames_decode(linked: bool) -> None:
    assert len(BIG_INDEX) > 4 * (64 << 10)  # several blocks
    blob = lz4_frame(BIG_INDEX, linked=linked)
    assert len(blob) < len(BIG_INDEX) // 3  # real matches, not only literals
    assert _decode(blob) == BIG_INDEX
    assert _decode(lz4_frame(b"a" * 100_000 + b"tail!")) == b"a" * 100_000 + b"tail!"
    skippable = (0x184D2A51).to_bytes(4, "little") + (3).to_bytes(4, "little") + b"xyz"
    two = skippable + lz4_frame(b"one\n", raw_blocks=True) + lz4_frame(b"two\n" * 10)
    assert _decode(two) == b"one\n" + b"two\n" * 10


def test_lz4_corrupt_frames_raise_lz4_error() -> None:
    good = lz4_frame(BIG_INDEX)
    for bad in (good[:len(good) // 2],                  # truncated
                b"\x04\x22\x4d\x18\x00\x40\x00",          # version bits 00
                b"\x04\x22\x4d\x18\x41\x40\x00",          # dictionary id
                b"\x04\x22\x4d\x18\x60\x40\x00" + (1 << 20).to_bytes(4, "little"),  # > max
                b"\x04\x22\x4d\x18\x60\x40\x00" + (3).to_bytes(4, "little")
                + b"\x00\x05\x00"):                       # offset outside the data
        with pytest.raises(ap.Lz4Error):
            _decode(bad)
    with pytest.raises(ap.Lz4Error, match="more than"):  # a block that decodes too large
        ap.lz4_block(b"\x1f" + b"a" + b"\x01\x00" + b"\xff" * 400 + b"\x00", b"", 64 << 10)


def test_lz4_apt_list_in_a_folder(tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / f"{SEC_LIST}.lz4").write_bytes(lz4_frame(BIG_INDEX))
    (lists / "deb.debian.org_debian-security_dists_bookworm-security_InRelease").write_bytes(
        release("Tue, 01 Dec 2026 08:00:00 UTC"))
    report = ap.check_pending(inv(deb("pkg7", "1.0-1"), deb("pkg8", "1.2999-1")), None, [lists])
    assert report.problems == ()
    (only,) = report.indexes
    assert only.security and only.stanzas == 3000 and only.complete
    assert only.date == dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
    got = {u.package: u.available for u in report.updates}
    assert got == {"pkg7": "1.2807-1"}  # the newest of pkg7's versions (n % 700 == 7)


@pytest.mark.skipif(not shutil.which("lz4"), reason="the lz4 command is not installed")
@pytest.mark.parametrize("options", [["-BD"], ["-BI", "-B4"], ["-BX", "--content-size", "-9"]])
def test_lz4_agrees_with_the_lz4_tool(tmp_path: Path, options: list[str]) -> None:
    source = tmp_path / "Packages"
    source.write_bytes(BIG_INDEX * 3)
    done = subprocess.run(["lz4", "-q", "-f", *options, str(source), str(tmp_path / "P.lz4")],
                          capture_output=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert _decode((tmp_path / "P.lz4").read_bytes()) == BIG_INDEX * 3
