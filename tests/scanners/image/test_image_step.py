"""The scan-image step on images built by code: distro and PyPI vulnerabilities, backports,
VEX before the gate, the SBOM artifact, incomplete inventories, broken images."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import image_scan_helpers as h
from image_builders import Member, build_oci_layout, layer_tar

from secpipe.core import registry
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext
from secpipe.scanners.image.step import ImageScanSettings, ImageScanStep
from secpipe.scanners.image.vulns import INCOMPLETE, VULNERABLE

LIBC = "pkg:deb/debian/libc6"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return h.make_database(tmp_path_factory.mktemp("imgdb"))


def scan(root: Path, db: Path | None, **settings: object) -> StepResult:
    ctx = StepContext(project_root=root, workdir=root / ".work")
    if db is not None:
        settings.setdefault("database", str(db))
    return ImageScanStep().run(ctx, ImageScanSettings.model_validate(settings))


def vuln_ids(result: StepResult) -> set[str]:
    return {dict(f.properties)["advisories"].split(",")[0]
            for f in result.findings if f.rule_id == VULNERABLE}


def test_registered_as_a_scanner() -> None:
    assert registry.scanner_kinds(plugins=False)["image"] == "scan-image"


def test_vulnerabilities_backport_and_vex_before_the_gate(tmp_path: Path, db: Path) -> None:
    h.build_layout(tmp_path / "img")
    (tmp_path / "vex.json").write_text(json.dumps(h.openvex("CVE-2024-2961", LIBC)))
    result = scan(tmp_path, db, paths=["img"], vex=["vex.json"])
    assert result.status == StepStatus.PASSED
    # CVE-2023-4911: backported (changelog); CVE-2024-2961: VEX not_affected; DSA-5514-1 fixed
    # both 4911 and 4527 (its `upstream`): the changelog names only 4911, so 4527 stays
    assert vuln_ids(result) == {"CVE-2010-4756", "CVE-2023-4527", "GHSA-demo-0001-0001"}
    by_id = {dict(f.properties)["advisories"].split(",")[0]: dict(f.properties)
             for f in result.findings if f.rule_id == VULNERABLE}
    assert by_id["CVE-2023-4527"]["fix_status"] == "fixed"
    assert by_id["CVE-2023-4527"]["fixed"] == "2.36-9+deb12u3"
    assert by_id["CVE-2023-4527"]["source_package"] == "glibc"
    assert "DSA-5514-1" in by_id["CVE-2023-4527"]["advisories"]
    assert by_id["CVE-2010-4756"]["fix_status"] == "affected"
    assert by_id["CVE-2010-4756"]["fixed"] == ""
    assert by_id["GHSA-demo-0001-0001"]["fixed"] == "1.2.0"
    assert "CVE-2024-99991" in by_id["GHSA-demo-0001-0001"]["advisories"]
    reasons = [s.reason for s in result.skipped]
    assert any(r.startswith("CVE-2023-4911: backported") and "CVE-2023-4911" in r
               for r in reasons)
    assert any(r.startswith("CVE-2024-2961: VEX not_affected: "
                            "vulnerable_code_not_in_execute_path") for r in reasons)
    assert result.metrics["backported"] == 1
    assert result.metrics["vex_suppressed"] == 1
    assert result.metrics["vulnerabilities"] == 3
    assert result.metrics["packages"] == 3
    assert "CVE-2023-4911 in libc6: backported" in result.message
    assert "CVE-2024-2961 in libc6: VEX not_affected" in result.message


def test_vex_affected_keeps_the_finding_and_other_products_do_not_match(
        tmp_path: Path, db: Path) -> None:
    h.build_layout(tmp_path / "img")
    (tmp_path / "a.json").write_text(json.dumps(h.openvex("CVE-2024-2961", LIBC, "affected")))
    (tmp_path / "b.json").write_text(json.dumps(h.openvex("CVE-2010-4756", "pkg:deb/debian/x")))
    result = scan(tmp_path, db, paths=["img"], vex=["a.json", "b.json"])
    assert {"CVE-2024-2961", "CVE-2010-4756"} <= vuln_ids(result)
    assert result.metrics["vex_suppressed"] == 0


def test_cyclonedx_vex_by_alias_and_bom_ref(tmp_path: Path, db: Path) -> None:
    h.build_layout(tmp_path / "img")
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
           "components": [{"type": "library", "bom-ref": "demo", "name": "demo-pkg",
                           "purl": "pkg:pypi/demo-pkg@1.0"}],
           "vulnerabilities": [{"id": "CVE-2024-99991",
                                "analysis": {"state": "resolved", "detail": "patched locally"},
                                "affects": [{"ref": "demo"}]}]}
    (tmp_path / "cdx.json").write_text(json.dumps(doc))
    result = scan(tmp_path, db, paths=["img"], vex=["cdx.json"])
    assert "GHSA-demo-0001-0001" not in vuln_ids(result)
    assert any("VEX fixed: patched locally" in s.reason for s in result.skipped)


def test_sbom_is_an_artifact_in_the_workdir(tmp_path: Path, db: Path) -> None:
    h.build_layout(tmp_path / "img")
    result = scan(tmp_path, db, paths=["img"], sbom=True)
    (artifact,) = result.artifacts
    assert artifact.media_type == "application/vnd.cyclonedx+json"
    path = Path(artifact.path)
    assert path.parent == tmp_path / ".work"
    doc = json.loads(path.read_text())
    assert doc["bomFormat"] == "CycloneDX"
    names = {c["name"] for c in doc["components"] if c["type"] == "library"}
    assert names == {"libc6", "base-files", "demo-pkg"}
    assert scan(tmp_path, db, paths=["img"], sbom=False).artifacts == ()


@pytest.mark.parametrize("fmt", ["oci-archive", "docker-archive"])
def test_archives_give_the_same_vulnerabilities(tmp_path: Path, db: Path, fmt: str) -> None:
    if fmt == "oci-archive":
        h.build_oci_archive(tmp_path / "out.tar")
    else:
        h.build_docker_archive(tmp_path / "out.tar")
    result = scan(tmp_path, db, paths=["out.tar"], contents=False)
    assert result.status == StepStatus.PASSED
    assert vuln_ids(result) == {"CVE-2010-4756", "CVE-2024-2961", "CVE-2023-4527",
                                "GHSA-demo-0001-0001"}


def test_without_the_changelog_the_cve_stays(tmp_path: Path, db: Path) -> None:
    h.build_layout(tmp_path / "img", changelog=False)
    result = scan(tmp_path, db, paths=["img"], contents=False)
    assert "CVE-2023-4911" in vuln_ids(result)
    assert result.metrics["backported"] == 0


def test_no_database_is_an_error(tmp_path: Path) -> None:
    h.build_layout(tmp_path / "img")
    result = scan(tmp_path, None, paths=["img"], database=str(tmp_path / "none.sqlite3"))
    assert result.status == StepStatus.ERROR
    assert "no OSV vulnerability database" in result.message


def test_unreadable_package_database_is_incomplete_never_a_pass(tmp_path: Path,
                                                                 db: Path) -> None:
    h.build_layout(tmp_path / "img", status=b"Package: x\nthis is not a field\n",
                   python=False)
    result = scan(tmp_path, db, paths=["img"], contents=False)
    assert result.status == StepStatus.PASSED
    incomplete = [f for f in result.findings if f.rule_id == INCOMPLETE]
    assert incomplete and incomplete[0].severity.rank >= 3
    assert "var/lib/dpkg/status" in incomplete[0].message


def test_release_without_data_is_incomplete(tmp_path: Path, db: Path) -> None:
    layers = h.debian_layers(python=False)
    layers[0]["etc/os-release"] = b"ID=debian\nVERSION_ID=\"9\"\n"
    build_oci_layout(tmp_path / "img", layers)
    result = scan(tmp_path, db, paths=["img"], contents=False)
    assert [f.rule_id for f in result.findings] == [INCOMPLETE]
    assert "no Debian:9 data" in result.findings[0].message


def test_hostile_member_is_incomplete_and_nothing_lands_outside(tmp_path: Path,
                                                                db: Path) -> None:
    evil = layer_tar({"../../escaped.txt": b"x",
                      "etc/passwd": Member(kind="symlink", target="../../../x"),
                      "dev/sda": Member(kind="block", devmajor=8)})
    build_oci_layout(tmp_path / "img", [*h.debian_layers(python=False), evil])
    result = scan(tmp_path, db, paths=["img"], contents=False)
    messages = [f.message for f in result.findings if f.rule_id == INCOMPLETE]
    for name in ("escaped.txt", "etc/passwd", "dev/sda"):
        assert any(name in m for m in messages), (name, messages)
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path.parent / "escaped.txt").exists()


def test_broken_image_is_an_error(tmp_path: Path, db: Path) -> None:
    h.build_oci_archive(tmp_path / "out.tar")
    data = (tmp_path / "out.tar").read_bytes()
    (tmp_path / "cut.tar").write_bytes(data[: len(data) // 2])
    result = scan(tmp_path, db, paths=["cut.tar"])
    assert result.status == StepStatus.ERROR
    assert result.message.startswith("cut.tar: ")
    (tmp_path / "junk.tar").write_bytes(b"not a tar at all" * 100)
    assert scan(tmp_path, db, paths=["junk.tar"]).status == StepStatus.ERROR


def test_bad_vex_document_is_an_error(tmp_path: Path, db: Path) -> None:
    h.build_layout(tmp_path / "img")
    (tmp_path / "vex.json").write_text("{not json")
    result = scan(tmp_path, db, paths=["img"], vex=["vex.json"])
    assert result.status == StepStatus.ERROR and "vex.json" in result.message


def test_layer_contents_are_scanned(tmp_path: Path, db: Path) -> None:
    pytest.importorskip("secpipe.scanners.image.content")
    h.build_layout(tmp_path / "img")
    result = scan(tmp_path, db, paths=["img"])
    assert any(f.rule_id == "image.root-user" for f in result.findings)


def test_alpine_image_matched_by_origin(tmp_path: Path, db: Path) -> None:
    installed = (b"P:libcrypto3\nV:3.3.0-r2\nA:x86_64\no:openssl\n\n"
                 b"P:zlib\nV:1.3.1-r1\nA:x86_64\no:zlib\n\n"
                 b"P:busybox\nV:1.36.1-r29\nA:x86_64\no:busybox\n")
    build_oci_layout(tmp_path / "img", [{
        "etc/os-release": b"ID=alpine\nVERSION_ID=3.20.3\n",
        "lib/apk/db/installed": installed}])
    result = scan(tmp_path, db, paths=["img"], contents=False)
    found = {dict(f.properties)["package"]: dict(f.properties)
             for f in result.findings if f.rule_id == VULNERABLE}
    # libcrypto3 by its origin openssl; zlib never affected on v3.20 ("0"); busybox fixed
    assert set(found) == {"libcrypto3"}
    assert found["libcrypto3"]["fixed"] == "3.3.1-r1"
    assert found["libcrypto3"]["source_package"] == "openssl"


def test_layer_bomb_over_the_bound_is_an_error(tmp_path: Path, db: Path) -> None:
    build_oci_layout(tmp_path / "img", [{"big": b"\0" * (2 << 20)}])
    result = scan(tmp_path, db, paths=["img"], max_image_bytes=1 << 20)
    assert result.status == StepStatus.ERROR and result.message.startswith("img: ")


def test_mutated_archives_never_crash(tmp_path: Path, db: Path) -> None:
    import random

    h.build_oci_archive(tmp_path / "out.tar")
    data = bytearray((tmp_path / "out.tar").read_bytes())
    rng = random.Random(14)
    for n in range(30):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        (tmp_path / f"m{n}.tar").write_bytes(bytes(mutated))
        result = scan(tmp_path, db, paths=[f"m{n}.tar"], contents=False)
        assert result.status in (StepStatus.PASSED, StepStatus.ERROR)
        if result.status == StepStatus.ERROR:
            assert result.message.startswith(f"m{n}.tar: ")


def test_two_images_in_one_step(tmp_path: Path, db: Path) -> None:
    h.build_oci_archive(tmp_path / "a.tar")
    h.build_docker_archive(tmp_path / "b.tar", python=False)
    result = scan(tmp_path, db, paths=["a.tar", "b.tar"], contents=False)
    assert result.metrics["images"] == 2 and len(result.artifacts) == 2
    images = {dict(f.properties)["image"] for f in result.findings if f.rule_id == VULNERABLE}
    assert images == {"example/app:1", "example:latest"}
    assert len({f.fingerprint for f in result.findings}) == len(result.findings)


def test_pending_security_update_from_a_named_mirror_index(tmp_path: Path, db: Path) -> None:
    # a local mirror's bookworm-security index offers a newer libc6: a pending security update
    # (no CVE data needed); base-files has nothing newer
    h.build_layout(tmp_path / "img")
    suite = tmp_path / "mirror" / "dists" / "bookworm-security"
    (suite / "main" / "binary-amd64").mkdir(parents=True)
    (suite / "Release").write_text("Origin: Debian\nLabel: Debian-Security\nSuite: "
                                   "stable-security\nCodename: bookworm-security\nDate: "
                                   + time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime())
                                   + "\n")
    (suite / "main" / "binary-amd64" / "Packages").write_text(
        "Package: libc6\nSource: glibc\nVersion: 2.36-9+deb12u9\nArchitecture: amd64\n\n"
        "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n")
    result = scan(tmp_path, db, paths=["img"], contents=False, apt_indexes=["mirror"])
    pending = [f for f in result.findings if f.rule_id == "image.pending-security-update"]
    assert len(pending) == 1 and "libc6" in pending[0].message
    assert "2.36-9+deb12u9" in pending[0].message
    assert result.metrics["pending_security_updates"] == 1
    assert "pending updates: 1 security" in result.message
    bad = scan(tmp_path, db, paths=["img"], contents=False, apt_indexes=["no-such-mirror"])
    assert bad.status == StepStatus.ERROR


def test_model_findings_on_a_packages_own_test_data_are_lowered(tmp_path: Path, db: Path) -> None:
    # os.system through GLOBAL + REDUCE (protocol 2), built here and only ever scanned
    payload = b"\x80\x02c" + b"os\nsystem\n" + b"X\x02\x00\x00\x00idq\x00\x85q\x01Rq\x02."
    site = "usr/local/lib/python3.11/site-packages"
    record = (b"numpy/lib/tests/data/objarr.pkl,,\nnumpy/core/weights.pkl,,\n"
              b"numpy-1.26.4.dist-info/METADATA,,\n")
    layers = [{"etc/os-release": h.DEBIAN_OS,
               f"{site}/numpy-1.26.4.dist-info/METADATA": b"Name: numpy\nVersion: 1.26.4\n",
               f"{site}/numpy-1.26.4.dist-info/RECORD": record,
               f"{site}/numpy/lib/tests/data/objarr.pkl": payload,  # the package's test data
               f"{site}/numpy/core/weights.pkl": payload,  # in the package, not a test
               f"{site}/other/tests/planted.pkl": payload}]  # no package lists it
    build_oci_layout(tmp_path / "img", layers, ref_name="example/app:1")
    result = scan(tmp_path, db, paths=["img"], sbom=False)
    worst = {f.location.path: f for f in result.findings
             if f.rule_id == "models.pickle.dangerous-callable"}
    fixture = worst[f"{site}/numpy/lib/tests/data/objarr.pkl"]
    assert fixture.severity.value == "low"
    assert dict(fixture.properties)["package_test_fixture"] == "numpy 1.26.4"
    assert "test data of the installed package numpy 1.26.4" in fixture.message
    assert worst[f"{site}/numpy/core/weights.pkl"].severity.value == "critical"
    assert worst[f"{site}/other/tests/planted.pkl"].severity.value == "critical"
    assert "1 model finding(s) on installed packages' own test data lowered" in result.message


def test_unchanged_distribution_files_are_skipped_unless_asked(tmp_path: Path, db: Path) -> None:
    import hashlib
    import random
    import string

    rng = random.Random(5)
    key = "AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))
    shipped = f"aws_access_key_id = {key}\n".encode()
    md5 = hashlib.md5(shipped, usedforsecurity=False).hexdigest()
    layers = [{"etc/os-release": h.DEBIAN_OS, "var/lib/dpkg/status": h.CLEAN_STATUS,
               "var/lib/dpkg/info/base-files.md5sums": f"{md5}  usr/share/doc/x/NEWS\n".encode(),
               "usr/share/doc/x/NEWS": shipped}]
    build_oci_layout(tmp_path / "img", layers, ref_name="example/app:1")
    quiet = scan(tmp_path, db, paths=["img"], sbom=False)
    assert not [f for f in quiet.findings if f.rule_id.startswith("secrets.")]
    assert quiet.metrics["distribution_files_skipped"] == 1
    assert "1 unchanged distribution file(s)" in quiet.message
    loud = scan(tmp_path, db, paths=["img"], sbom=False, distribution_files=True)
    assert [f.location.path for f in loud.findings if f.rule_id == "secrets.aws-access-key"] \
        == ["usr/share/doc/x/NEWS"]
