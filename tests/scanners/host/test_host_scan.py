"""scan-host: real oscap (ssg-debian, patched for Debian 12) on the host and offline on a root
folder the test builds, real Lynis on a few tests, the datastream patch, and bounded readers."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from secpipe.core.errors import ConfigError, InputError, StepError
from secpipe.core.findings import Severity
from secpipe.core.results import FinishedStep, StepResult, StepStatus
from secpipe.core.step import StepContext
from secpipe.scanners.host.controls import control_tags, severity_of
from secpipe.scanners.host.datastream import (
    DatastreamError,
    default_datastream,
    patch_bytes,
    patched_datastream,
)
from secpipe.scanners.host.lynis import parse_report
from secpipe.scanners.host.step import HostScanSettings, HostScanStep

OSCAP = shutil.which("oscap")
DATASTREAM = default_datastream()
DEBIAN = Path("/etc/debian_version").read_text().strip() if Path(
    "/etc/debian_version").is_file() else ""
needs_oscap = [pytest.mark.external, pytest.mark.skipif(
    OSCAP is None or DATASTREAM is None,
    reason="oscap or ssg-debian missing (apt-get install openscap-scanner ssg-debian)")]
needs_lynis = [pytest.mark.external, pytest.mark.skipif(
    shutil.which("lynis") is None, reason="lynis missing (apt-get install lynis)")]

ROOTFS_RULES = ["file_permissions_etc_passwd", "file_permissions_etc_group",
                "package_telnetd_removed", "package_nis_removed", "partition_for_home",
                "sysctl_kernel_randomize_va_space"]
TELNETD = ("Package: telnetd\nStatus: install ok installed\nPriority: optional\n"
           "Section: net\nArchitecture: amd64\nSource: inetutils\nVersion: 0.17+deb12u1\n"
           "Description: telnet server\n\n")


def _rootfs(root: Path, *, dpkg: bool) -> Path:
    (root / "etc").mkdir(parents=True)
    for name in ("debian_version", "os-release", "passwd", "group"):
        shutil.copy(Path("/etc") / name, root / "etc" / name)
    (root / "etc" / "group").chmod(0o644)
    (root / "etc" / "passwd").chmod(0o666)  # world-writable: file_permissions_etc_passwd fails
    if dpkg:
        (root / "var/lib/dpkg").mkdir(parents=True)
        (root / "var/lib/dpkg/status").write_text(
            Path("/var/lib/dpkg/status").read_text() + "\n" + TELNETD)
    return root


def _run(tmp: Path, **settings: object) -> StepResult:
    ctx = StepContext(project_root=tmp, workdir=tmp / "work", cache_dir=tmp / "cache",
                      timeout=300)
    return HostScanStep().run(ctx, HostScanSettings.model_validate(settings))


@pytest.fixture(scope="module")
def rootfs_scan(tmp_path_factory: pytest.TempPathFactory) -> StepResult:
    tmp = tmp_path_factory.mktemp("host")
    root = _rootfs(tmp / "rootfs", dpkg=True)
    return _run(tmp, targets=[f"rootfs:{root}"], rules=ROOTFS_RULES)


class TestOffline:
    pytestmark = needs_oscap

    def test_failed_rules_are_findings_with_severity_and_controls(
            self, rootfs_scan: StepResult) -> None:
        assert rootfs_scan.status is StepStatus.PASSED, rootfs_scan.message
        found = {f.rule_id: f for f in rootfs_scan.findings}
        passwd = found["host.file_permissions_etc_passwd"]
        assert passwd.severity is Severity.MEDIUM
        assert {"CIS-Controls:5", "NIST-800-53:AC-6(1)", "NIST-800-53:CM-6(a)"} <= set(passwd.tags)
        assert passwd.location.path.startswith("rootfs:")
        assert dict(passwd.properties)["rule"].endswith("_rule_file_permissions_etc_passwd")
        assert "host.file_permissions_etc_group" not in found  # 0644: passes

    def test_package_rules_are_decided_by_secpipes_dpkg_reader(
            self, rootfs_scan: StepResult) -> None:
        # openscap 1.3's dpkginfo probe cannot read a dpkg database under OSCAP_PROBE_ROOT:
        # secpipe reads /var/lib/dpkg/status itself; telnetd is listed installed (fails
        # package_telnetd_removed), nis is not listed (package_nis_removed passes)
        found = {f.rule_id: f for f in rootfs_scan.findings}
        telnetd = found["host.package_telnetd_removed"]
        assert telnetd.severity is Severity.HIGH
        props = dict(telnetd.properties)
        assert props["decided_by"] == "secpipe's dpkg reader"
        assert props["package"] == "telnetd" and props["expected"] == "not installed"
        assert props["check_from"] == "oval"
        assert "host.package_nis_removed" not in found
        assert "host.scan-incomplete" not in found, found.get("host.scan-incomplete")
        assert rootfs_scan.metrics["rules_dpkg_decided"] == 2
        assert rootfs_scan.metrics["rules_undecided"] == 0

    def test_metrics_count_pass_fail_and_machine_only_rules(self, rootfs_scan: StepResult
                                                           ) -> None:
        # a root folder is judged as a container: partitions and sysctls are not applicable
        m = rootfs_scan.metrics
        assert m["rules_notapplicable"] == 2
        assert m["rules_pass"] == 2  # etc/group, package_nis_removed
        assert m["rules_fail"] == 2  # etc/passwd, package_telnetd_removed
        assert any(a.name.startswith("oscap-results") for a in rootfs_scan.artifacts)

    def test_package_rules_without_a_dpkg_database_are_undecided_not_passed(
            self, tmp_path: Path) -> None:
        root = _rootfs(tmp_path / "rootfs", dpkg=False)
        result = _run(tmp_path, targets=[str(root)], rules=ROOTFS_RULES)
        assert result.metrics["rules_undecided"] == 2 and result.metrics["rules_pass"] == 1
        (incomplete,) = [f for f in result.findings if f.rule_id == "host.scan-incomplete"]
        assert incomplete.severity is Severity.HIGH
        assert "2 rule(s)" in incomplete.message and "package_nis_removed" in incomplete.message
        assert "host.package_telnetd_removed" not in {f.rule_id for f in result.findings}

    def test_a_distroless_status_d_counts_as_a_dpkg_database(self, tmp_path: Path) -> None:
        root = _rootfs(tmp_path / "rootfs", dpkg=False)
        (root / "var/lib/dpkg/status.d").mkdir(parents=True)
        (root / "var/lib/dpkg/status.d/telnetd").write_text(TELNETD)
        result = _run(tmp_path, targets=[str(root)], rules=ROOTFS_RULES)
        found = {f.rule_id: f for f in result.findings}
        assert dict(found["host.package_telnetd_removed"].properties)["decided_by"]
        assert "host.scan-incomplete" not in found
        assert result.metrics["rules_dpkg_decided"] == 2

    @pytest.mark.parametrize("case", ["link-out", "bad-stanza"])
    def test_an_unreadable_dpkg_database_leaves_package_rules_undecided(
            self, tmp_path: Path, case: str) -> None:
        root = _rootfs(tmp_path / "rootfs", dpkg=False)
        (root / "var/lib/dpkg").mkdir(parents=True)
        if case == "link-out":  # a link leaving the root is never followed
            outside = tmp_path / "outside-status"
            outside.write_text(TELNETD)
            (root / "var/lib/dpkg/status").symlink_to(outside)
        else:  # a dropped stanza could hide an installed package: no verdict
            (root / "var/lib/dpkg/status").write_text("this is not a stanza\n" + TELNETD)
        result = _run(tmp_path, targets=[str(root)], rules=ROOTFS_RULES)
        found = {f.rule_id: f for f in result.findings}
        assert "host.package_telnetd_removed" not in found
        assert result.metrics["rules_undecided"] == 2
        assert result.metrics["rules_dpkg_decided"] == 0
        assert "package_nis_removed" in found["host.scan-incomplete"].message

    def test_a_hostile_results_file_is_scan_incomplete(self, tmp_path: Path) -> None:
        hostile = tmp_path / "hostile.xml"
        hostile.write_text('<!DOCTYPE b [<!ENTITY a "x">]><Benchmark>&a;</Benchmark>')
        fake = tmp_path / "fake-oscap"
        fake.write_text('#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = --results ] && out="$2"; '
                        f'shift; done\ncat "{hostile}" > "$out"\nexit 2\n')
        fake.chmod(0o755)
        result = _run(tmp_path, targets=["host"], lynis=False, oscap_program=str(fake))
        assert [f.rule_id for f in result.findings] == ["host.scan-incomplete"]
        assert "refused" in result.findings[0].message

    def test_oscap_timing_out_is_scan_incomplete(self, tmp_path: Path) -> None:
        fake = tmp_path / "slow-oscap"
        fake.write_text("#!/bin/sh\nsleep 30\n")
        fake.chmod(0o755)
        result = _run(tmp_path, targets=["host"], lynis=False, oscap_program=str(fake),
                      max_seconds=0.5)
        assert [f.rule_id for f in result.findings] == ["host.scan-incomplete"]
        assert "timed out" in result.findings[0].message


@pytest.mark.skipif(not DEBIAN.startswith("12"), reason="the patch is for Debian 12 hosts")
class TestDebian12Host:
    pytestmark = needs_oscap

    def test_the_patched_datastream_makes_rules_applicable(self, tmp_path: Path) -> None:
        rules = ["file_permissions_etc_passwd", "file_owner_etc_passwd", "package_nis_removed"]
        patched = _run(tmp_path, targets=["host"], rules=rules, lynis=False)
        assert patched.metrics["rules_pass"] == 3, patched.message  # dpkginfo works on the host
        assert patched.metrics["rules_undecided"] == 0 and not patched.findings
        plain = _run(tmp_path, targets=["/"], rules=rules, lynis=False, patch_platform=False)
        assert plain.metrics["rules_pass"] == 0 and plain.metrics["rules_notapplicable"] == 3
        cached = list((tmp_path / "cache" / "oscap").glob("*.xml"))
        assert len(cached) == 1 and not str(cached[0]).startswith("/usr")


class TestLynis:
    pytestmark = [*needs_lynis, *needs_oscap, pytest.mark.slow]

    def test_lynis_suggestions_and_hardening_index(self, tmp_path: Path) -> None:
        result = _run(tmp_path, targets=["host"], rules=["file_permissions_etc_passwd"],
                      lynis_tests=["AUTH-9262", "KRNL-5820"], lynis_suggestions=True)
        assert result.status is StepStatus.PASSED, result.message
        assert 0 <= result.metrics["lynis_hardening_index"] <= 100
        lynis = [f for f in result.findings if f.rule_id.startswith("host.lynis.")]
        assert lynis and all(f.severity is Severity.LOW for f in lynis)
        assert "host.lynis.auth-9262" in {f.rule_id for f in lynis}
        assert result.tool.startswith("openscap + lynis 3")


def test_lynis_on_a_root_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    with pytest.raises(ConfigError, match="lynis"):
        _run(tmp_path, targets=["rootfs:r"], lynis=True)


def test_a_missing_target_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope: no such folder"):
        _run(tmp_path, targets=["rootfs:nope"])


@pytest.mark.skipif(DATASTREAM is None, reason="ssg-debian missing")
def test_a_missing_oscap_is_an_error_naming_the_packages(tmp_path: Path) -> None:
    with pytest.raises(StepError, match="openscap-scanner ssg-debian"):
        _run(tmp_path, targets=["host"], lynis=False, oscap_program="no-such-oscap")


def test_a_missing_datastream_is_an_error(tmp_path: Path) -> None:
    result = _run(tmp_path, targets=["host"], datastream=str(tmp_path / "none.xml"))
    assert result.status is StepStatus.ERROR and "ssg-debian" in result.message


DS = (b'<?xml version="1.0"?>\n<ds xmlns:ind="urn:ind" xmlns:unix="urn:unix">'
      b'<ind:textfilecontent54_object id="oval:ssg-obj_debian_10:obj:1"><ind:filepath>'
      b'/etc/debian_version</ind:filepath><ind:pattern operation="pattern match">^10.[0-9]+$'
      b'</ind:pattern></ind:textfilecontent54_object>'
      b'<ind:textfilecontent54_object id="oval:ssg-obj_debian_11:obj:1"><ind:filepath>'
      b'/etc/debian_version</ind:filepath><ind:pattern operation="pattern match">^11.[0-9]+$'
      b'</ind:pattern></ind:textfilecontent54_object>'
      b'<unix:file_object><unix:filepath datatype="string">/.dockerenv</unix:filepath>'
      b'</unix:file_object><x>&lt;kept&gt;</x></ds>')


def test_the_patch_changes_only_the_newest_version_check() -> None:
    patched, count = patch_bytes(DS)
    assert count == 1
    assert patched == DS.replace(b"^11.[0-9]+$", rb"^(11|12|13)\.[0-9]+$")


def test_the_container_patch_also_moves_the_container_check() -> None:
    patched, _ = patch_bytes(DS, container=True)
    assert b"/.dockerenv" not in patched
    assert patched.count(b"/etc/debian_version") == 3 and b"&lt;kept&gt;" in patched


@pytest.mark.parametrize("raw", [
    b'<!DOCTYPE ds [<!ENTITY a "b">]><ds>&a;</ds>',
    b'<!DOCTYPE ds SYSTEM "file:///etc/passwd"><ds/>',
    b"<ds><unclosed></ds>",
    b"<ds/>",  # nothing to patch: never a silent copy that still reads not applicable
    DS.replace(b"^11.[0-9]+$", b"^11.&#91;0-9]+$"),
], ids=["entities", "doctype", "malformed", "no-check", "reference-in-pattern"])
def test_hostile_or_unexpected_datastreams_are_refused(raw: bytes) -> None:
    with pytest.raises(DatastreamError):
        patch_bytes(raw)


def test_the_patched_copy_is_cached_under_the_given_folder(tmp_path: Path) -> None:
    source = tmp_path / "ssg-debian11-ds.xml"
    source.write_bytes(DS)
    first = patched_datastream(source, tmp_path / "cache")
    assert first.parent == tmp_path / "cache" and first.read_bytes() != DS
    assert patched_datastream(source, tmp_path / "cache") == first
    assert source.read_bytes() == DS


REPORT = (b"lynis_version=3.0.8\n"
          b"warning[]=SSH-7408|Root can log in over SSH|PermitRootLogin=yes|-|\n"
          b"suggestion[]=AUTH-9262|Install a PAM module|-|-|\n"
          b"suggestion[]=bad id|ignored|-|-|\n"
          b"hardening_index=61\ntests_executed=SSH-7408|AUTH-9262|\n")


def test_the_lynis_report_is_read() -> None:
    report = parse_report(REPORT)
    assert report.hardening_index == 61 and report.version == "3.0.8"
    assert [(w.test, w.text, w.details) for w in report.warnings] == [
        ("SSH-7408", "Root can log in over SSH", "PermitRootLogin=yes")]
    assert [s.test for s in report.suggestions] == ["AUTH-9262"]
    assert report.tests_executed == 2


@pytest.mark.parametrize("raw", [
    REPORT.replace(b"hardening_index=61\n", b""),
    REPORT.replace(b"=61", b"=999"),
    b"warning[]=SSH-7408|x|-|-|\n" * 5001 + b"hardening_index=1\n",
], ids=["incomplete", "bad-index", "too-many"])
def test_a_bad_lynis_report_is_refused(raw: bytes) -> None:
    with pytest.raises(InputError):
        parse_report(raw)


@pytest.mark.skipif(DATASTREAM is None, reason="ssg-debian missing")
def test_package_checks_come_from_the_rules_oval_definitions() -> None:
    from secpipe.scanners.host.dpkgrules import RULE_PREFIX_OF, package_checks

    assert DATASTREAM is not None
    checks = package_checks(DATASTREAM)
    telnetd = checks[RULE_PREFIX_OF + "package_telnetd_removed"]
    assert (telnetd.package, telnetd.installed, telnetd.source) == ("telnetd", False, "oval")
    audit = checks[RULE_PREFIX_OF + "package_audit_installed"]  # the OVAL name, not the id's
    assert (audit.package, audit.installed) == ("auditd", True)
    assert telnetd.judge(frozenset({"telnetd"})) == "fail"
    assert telnetd.judge(frozenset({"bash"})) == "pass"


def test_a_hostile_datastream_gives_no_package_checks(tmp_path: Path) -> None:
    from secpipe.scanners.host.dpkgrules import package_checks

    hostile = tmp_path / "ds.xml"
    hostile.write_text('<!DOCTYPE b [<!ENTITY a "x">]><b>&a;</b>')
    with pytest.raises(InputError, match="refused"):
        package_checks(hostile)


def test_control_tags_and_severities() -> None:
    refs = [("https://www.cisecurity.org/controls/", "5"),
            ("http://nvlpubs.nist.gov/nistpubs/SpecialPublications/NIST.SP.800-53r4.pdf",
             "AC-6(1), CM-6(a)"),
            ("https://www.isaca.org/resources/cobit", "APO01.06")]
    assert control_tags(refs) == ("CIS-Controls:5", "NIST-800-53:AC-6(1)", "NIST-800-53:CM-6(a)")
    assert severity_of("high") is Severity.HIGH and severity_of("unknown") is Severity.MEDIUM


def test_probe_failures_are_read_from_the_error_log(tmp_path: Path) -> None:
    from secpipe.scanners.host.oscap import probe_failures

    log = tmp_path / "errors"
    log.write_text("E: oscap:     dpkginfo_init has failed.\nW: oscap: other\n"
                   "E: oscap:     rpminfo_probe_main failed.\n")
    assert probe_failures(log) == ["dpkginfo", "rpminfo"]
    assert probe_failures(tmp_path / "missing") == []


PODMAN = shutil.which("podman")


@pytest.fixture(scope="module")
def podman_container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A podman container (created, not started) of an image imported from a folder the test
    builds (no pulls), in a podman store of its own; removed at the end."""
    import subprocess
    import tarfile

    tmp = tmp_path_factory.mktemp("podman")
    root = _rootfs(tmp / "rootfs", dpkg=True)
    with tarfile.open(tmp / "image.tar", "w") as tar:
        tar.add(root, arcname=".")
    store = ["--root", str(tmp / "store"), "--runroot", str(tmp / "run")]

    def podman(*args: str) -> str:
        done = subprocess.run([PODMAN or "podman", *store, *args], capture_output=True,
                              text=True, timeout=120, check=True)
        return done.stdout.strip().splitlines()[-1]

    podman("import", str(tmp / "image.tar"), "localhost/secpipe-host-test:1")
    cid = podman("create", "--runtime", "/usr/sbin/runc", "localhost/secpipe-host-test:1",
                 "/bin/true")
    subprocess.run([PODMAN or "podman", *store, "save", "--format", "oci-archive", "-o",
                    str(tmp / "oci.tar"), "localhost/secpipe-host-test:1"], check=True,
                   capture_output=True, timeout=120)
    try:
        yield {"id": cid, "root": str(tmp / "store"), "runroot": str(tmp / "run"),
               "archive": str(tmp / "oci.tar")}
    finally:
        podman("rm", "-f", cid)
        podman("rmi", "-f", "localhost/secpipe-host-test:1")
        shutil.rmtree(tmp / "store", ignore_errors=True)


@pytest.mark.external
@pytest.mark.skipif(PODMAN is None or OSCAP is None or DATASTREAM is None,
                    reason="podman, oscap or ssg-debian missing")
def test_the_deployments_container_is_mounted_scanned_and_unmounted(
        podman_container: dict[str, str], tmp_path: Path) -> None:
    import json
    import subprocess

    from secpipe.core.artifacts import Artifact
    from secpipe.core.results import FinishedStep

    record = tmp_path / "deployment.json"
    record.write_text(json.dumps({
        "kind": "podman", "container_id": podman_container["id"], "host": "127.0.0.1",
        "port": 8080, "ports": [8080], "url": "http://127.0.0.1:8080",
        "podman_root": podman_container["root"], "podman_runroot": podman_container["runroot"]}))
    deploy = FinishedStep("deploy", "deploy", "deploy", StepResult(
        artifacts=(Artifact.from_file("deployment", record, "application/json"),)))
    ctx = StepContext(project_root=tmp_path, workdir=tmp_path / "work", earlier=(deploy,),
                      cache_dir=tmp_path / "cache", timeout=300)
    result = HostScanStep().run(ctx, HostScanSettings(rules=ROOTFS_RULES))
    assert result.status is StepStatus.PASSED, result.message
    found = {f.rule_id: f for f in result.findings}
    passwd = found["host.file_permissions_etc_passwd"]
    assert passwd.location.path == f"container:{podman_container['id']}"
    telnetd = found["host.package_telnetd_removed"]  # decided by secpipe's dpkg reader
    assert dict(telnetd.properties)["decided_by"] == "secpipe's dpkg reader"
    assert "host.scan-incomplete" not in found, found.get("host.scan-incomplete")
    assert "lynis_hardening_index" not in result.metrics  # Lynis is off for a container
    mounts = subprocess.run(
        ["podman", "--root", podman_container["root"], "--runroot", podman_container["runroot"],
         "mount"], capture_output=True, text=True, timeout=60, check=True).stdout
    assert podman_container["id"][:12] not in mounts  # unmounted again


@pytest.mark.external
@pytest.mark.skipif(PODMAN is None or OSCAP is None or DATASTREAM is None,
                    reason="podman, oscap or ssg-debian missing")
def test_an_image_is_unpacked_scanned_offline_and_removed(podman_container: dict[str, str],
                                                          tmp_path: Path) -> None:
    result = _run(tmp_path, targets=[f"image:{podman_container['archive']}"], rules=ROOTFS_RULES)
    assert result.status is StepStatus.PASSED, result.message
    passwd = {f.rule_id: f for f in result.findings}["host.file_permissions_etc_passwd"]
    assert passwd.location.path == f"image:{podman_container['archive']}"
    assert result.metrics["rules_notapplicable"] == 2  # judged as a container
    assert not (tmp_path / "work" / "rootfs").exists()


def test_a_missing_image_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such image"):
        _run(tmp_path, targets=["image:nope.tar"])


def _process_deployment(tmp: Path) -> tuple[FinishedStep, ...]:
    import json

    from secpipe.core.artifacts import Artifact

    record = tmp / "deployment.json"
    record.write_text(json.dumps({"kind": "process", "url": "http://127.0.0.1:8080",
                                  "host": "127.0.0.1", "port": 8080, "ports": [8080],
                                  "pid": os.getpid()}))
    return (FinishedStep("deploy", "deploy", "deploy", StepResult(
        artifacts=(Artifact.from_file("deployment", record, "application/json"),))),)


def test_no_target_and_no_deployment_is_skipped(tmp_path: Path) -> None:
    result = HostScanStep().run(StepContext(project_root=tmp_path, workdir=tmp_path / "w"),
                                HostScanSettings())
    assert result.status is StepStatus.SKIPPED and result.message.startswith("nothing found:")


def test_the_unconfigured_step_without_its_tools_is_skipped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    ctx = StepContext(project_root=tmp_path, workdir=tmp_path / "w",
                      earlier=_process_deployment(tmp_path))
    result = HostScanStep().run(ctx, HostScanSettings())
    assert result.status is StepStatus.SKIPPED
    assert result.message.startswith("not configured: oscap") and "lynis" in result.message
