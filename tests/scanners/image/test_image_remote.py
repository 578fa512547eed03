"""``scan-image`` on images in a real OCI registry (Debian's docker-registry, started by
``tests/servers.py``): pushed from a layout built by code, then scanned by digest and by tag
through the step and ``secpipe scan image``, with the same findings as the local layout; a wrong
digest, an unknown tag or repository, a tampered blob, an unreachable registry, an image over the
size bound and a bad reference are exit 2 with one clear line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import image_scan_helpers as h
from image_builders import build_oci_layout, read_blob  # type: ignore[import-not-found]

from secpipe.cli.main import main
from secpipe.core import exitcodes
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext
from secpipe.images.registry import RegistryClient, RegistryError, push_image
from secpipe.keys.refs import SecretResolver
from secpipe.scanners.image import remote
from secpipe.scanners.image.remote import choose_platform, parse_reference
from secpipe.scanners.image.step import ImageScanSettings, ImageScanStep
from secpipe.scanners.image.vulns import VULNERABLE
from servers import Server, oci_server  # type: ignore[import-not-found]

__all__ = ["oci_server"]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ZERO = "sha256:" + "0" * 64


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return h.make_database(tmp_path_factory.mktemp("remotedb"))


@pytest.fixture(scope="module")
def pushed(oci_server: Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The helpers' Debian image as ``scan/app:v1`` (its local layout, its digest)."""
    layout = h.build_layout(tmp_path_factory.mktemp("remote") / "img")
    result = push_image(layout, None, oci_server.url, "scan/app", "v1", insecure=True)
    return layout, result.digest


def scan(root: Path, db: Path, **settings: object) -> StepResult:
    ctx = StepContext(project_root=root, workdir=root / ".work")
    settings.setdefault("database", str(db))
    return ImageScanStep().run(ctx, ImageScanSettings.model_validate(settings))


def summary(findings: Any) -> set[tuple[str, str, str]]:
    """What a finding says, without where (a local path or a reference)."""
    return {(f.rule_id, f.severity.name, dict(f.properties).get("advisories", f.message))
            for f in findings}


# -- references and platforms (no server) ----------------------------------------------------------
def test_references_parse() -> None:
    ref = parse_reference("oci://127.0.0.1:5000/team/app:v1")
    assert (ref.host, ref.repo, ref.tag, ref.digest) == ("127.0.0.1:5000", "team/app", "v1", None)
    ref = parse_reference(f"oci://reg.example/app@{ZERO}")
    assert (ref.host, ref.repo, ref.tag, ref.digest) == ("reg.example", "app", None, ZERO)
    assert str(parse_reference(f"OCI://reg.example/app:1@{ZERO}")) == \
        f"oci://reg.example/app:1@{ZERO}"


@pytest.mark.parametrize("text,match", [
    ("oci://reg.example/app", "neither a tag nor a digest"),
    ("oci://reg.example", "not an image reference"),
    ("oci:///app:1", "not an image reference"),
    ("oci://reg.example/App:1", "not a valid OCI name"),
    ("oci://reg.example/app:bad tag", "not a valid OCI tag"),
    ("oci://reg.example/app@sha256:abc", "not a sha256 digest"),
    ("oci://reg.example/app:" + "x" * 2000, "longer than"),
])
def test_bad_references(text: str, match: str) -> None:
    with pytest.raises(RegistryError, match=match):
        parse_reference(text)


def test_credentials_in_a_reference_are_refused_unechoed() -> None:
    with pytest.raises(RegistryError) as caught:
        parse_reference("oci://bob:hunter2@reg.example/app:1")
    assert "hunter2" not in caught.value.message + str(caught.value.hint)


def _entry(digest: str, platform: str, **extra: Any) -> dict[str, Any]:
    os_name, arch, *variant = platform.split("/")
    plat = {"os": os_name, "architecture": arch, **({"variant": variant[0]} if variant else {})}
    return {"mediaType": OCI_MANIFEST, "digest": digest, "size": 10, "platform": plat, **extra}


def test_choose_platform() -> None:
    a, b, c = ("sha256:" + x * 64 for x in "abc")
    index = {"manifests": [
        _entry(c, "linux/amd64", annotations={"vnd.docker.reference.type":
                                              "attestation-manifest"}),
        _entry(a, "linux/arm/v7"), _entry(b, "linux/amd64")]}
    assert choose_platform(index, "linux/amd64", "x") == (b, "linux/amd64")
    assert choose_platform(index, "linux/arm", "x") == (a, "linux/arm/v7")
    with pytest.raises(RegistryError, match=r"platform linux/s390x \(has: linux/amd64, "
                                            r"linux/arm/v7\)"):
        choose_platform(index, "linux/s390x", "x")
    with pytest.raises(RegistryError, match="bounded"):
        choose_platform({"manifests": "no"}, "linux/amd64", "x")


# -- the step against the real registry ------------------------------------------------------------
def test_step_by_digest_and_tag_matches_the_local_layout(
        oci_server: Server, pushed: tuple[Path, str], db: Path, tmp_path: Path) -> None:
    layout, digest = pushed
    local = scan(tmp_path, db, paths=[str(layout)])
    assert local.status is StepStatus.PASSED, local.message
    assert any(f.rule_id == VULNERABLE for f in local.findings)
    base = f"oci://{oci_server.url}/scan/app"
    for ref in (f"{base}@{digest}", f"{base}:v1"):
        got = scan(tmp_path, db, paths=[ref], insecure=True)
        assert got.status is StepStatus.PASSED, got.message
        assert summary(got.findings) == summary(local.findings)
        for key in ("packages", "vulnerabilities", "backported"):
            assert got.metrics[key] == local.metrics[key]
        label = f"{base}:v1@{digest}" if ref.endswith(":v1") else f"{base}@{digest}"
        assert {dict(f.properties)["image"] for f in got.findings
                if f.rule_id == VULNERABLE} == {label}
        assert digest in got.message
        (sbom,) = got.artifacts
        assert json.loads(Path(sbom.path).read_text())["metadata"]["component"]["name"] == label
        # nothing pulled is left: the step's folder holds the SBOMs only
        assert [p.name for p in (tmp_path / ".work").iterdir()
                if not p.name.startswith("sbom-")] == []
    assert f"{base}:v1 resolved to {digest}" in got.message


def test_multi_platform_index_picks_the_platform(
        oci_server: Server, db: Path, tmp_path: Path) -> None:
    digests = {}
    for platform in ("linux/amd64", "linux/arm64"):
        folder = tmp_path / platform.replace("/", "-")
        layers = h.debian_layers(python=platform == "linux/amd64")
        build_oci_layout(folder, layers, platform=platform)
        digests[platform] = push_image(folder, None, oci_server.url, "scan/multi", None,
                                       insecure=True).digest
    manifests = [_entry(d, p) for p, d in digests.items()]
    for entry, (p, d) in zip(manifests, digests.items(), strict=True):
        folder = tmp_path / p.replace("/", "-")
        entry["size"] = len(read_blob(folder, d))
    raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                      "manifests": manifests}).encode()
    client = RegistryClient(oci_server.url, insecure=True)
    index_digest = client.put_manifest("scan/multi", "both", raw, OCI_INDEX)
    ref = f"oci://{oci_server.url}/scan/multi:both"
    amd = scan(tmp_path, db, paths=[ref], insecure=True)
    assert amd.status is StepStatus.PASSED, amd.message
    assert f"index {index_digest}, linux/amd64 manifest {digests['linux/amd64']}" in amd.message
    arm = scan(tmp_path, db, paths=[ref], insecure=True, platform="linux/arm64")
    assert f"linux/arm64 manifest {digests['linux/arm64']}" in arm.message
    assert arm.metrics["packages"] == amd.metrics["packages"] - 1  # no demo-pkg on arm64
    bad = scan(tmp_path, db, paths=[ref], insecure=True, platform="linux/s390x")
    assert bad.status is StepStatus.ERROR
    assert "has: linux/amd64, linux/arm64" in bad.message


def test_tampered_blob_in_the_registry_is_an_error(
        oci_server: Server, db: Path, tmp_path: Path) -> None:
    folder = tmp_path / "tamper"
    digest = build_oci_layout(folder, [{"etc/os-release": h.DEBIAN_OS,
                                        "srv/tamper-me": b"remote-scan " * 512}])
    push_image(folder, None, oci_server.url, "scan/tamper", "v1", insecure=True)
    layer = json.loads(read_blob(folder, digest))["layers"][0]["digest"].split(":")[1]
    stored = next(oci_server.data.glob(f"blobs/**/blobs/sha256/{layer[:2]}/{layer}/data"))
    original = stored.read_bytes()
    stored.write_bytes(bytes(len(original)))
    try:
        got = scan(tmp_path, db, paths=[f"oci://{oci_server.url}/scan/tamper:v1"],
                   insecure=True)
    finally:
        stored.write_bytes(original)
    assert got.status is StepStatus.ERROR
    assert "hashes to" in got.message
    assert not (tmp_path / ".work").exists() or not any((tmp_path / ".work").iterdir())


def test_size_bound_and_unknown_repository(oci_server: Server, pushed: tuple[Path, str],
                                           db: Path, tmp_path: Path) -> None:
    _, digest = pushed
    big = scan(tmp_path, db, paths=[f"oci://{oci_server.url}/scan/app@{digest}"],
               insecure=True, max_image_bytes=1000)
    assert big.status is StepStatus.ERROR and "limit 1000" in big.message
    none = scan(tmp_path, db, paths=[f"oci://{oci_server.url}/scan/nothing-here:v1"],
                insecure=True)
    assert none.status is StepStatus.ERROR and "does not exist" in none.message


def test_credentials_come_from_secret_references(
        oci_server: Server, pushed: tuple[Path, str], db: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    real = RegistryClient

    def spy(registry: str, **kwargs: Any) -> RegistryClient:
        seen.update(kwargs)
        return real(registry, **kwargs)

    monkeypatch.setattr(remote, "RegistryClient", spy)
    monkeypatch.setenv("TEST_REG_USER", "robot")
    monkeypatch.setenv("TEST_REG_PASSWORD", "s3cret-value")
    ctx = StepContext(project_root=tmp_path, workdir=tmp_path / ".work",
                      secrets=SecretResolver(tmp_path))
    settings = ImageScanSettings.model_validate({
        "paths": [f"oci://{oci_server.url}/scan/app:v1"], "insecure": True,
        "database": str(db), "username": "${env:TEST_REG_USER}",
        "password": "${env:TEST_REG_PASSWORD}"})
    got = ImageScanStep().run(ctx, settings)
    assert got.status is StepStatus.PASSED, got.message
    assert (seen["username"], seen["password"]) == ("robot", "s3cret-value")
    assert "s3cret-value" not in got.message


# -- the command line ------------------------------------------------------------------------------
@pytest.fixture
def cli_db(tmp_path: Path, db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SECPIPE_OSV_DB", str(db))
    monkeypatch.chdir(tmp_path)
    return db


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["scan", "image", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _cli_findings(out: str) -> set[tuple[str, str]]:
    doc = json.loads(out)
    assert doc["findings"]
    return {(f["rule_id"], (f.get("properties") or {}).get("advisories", f["message"]))
            for f in doc["findings"]}


def test_cli_by_tag_and_digest_same_findings_as_local(
        oci_server: Server, pushed: tuple[Path, str], cli_db: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    layout, digest = pushed
    code, local, _ = _cli(capsys, str(layout), "--json")
    assert code == exitcodes.GATE_FAILED
    base = f"oci://{oci_server.url}/scan/app"
    for ref in (f"{base}:v1", f"{base}@{digest}"):
        code, out, err = _cli(capsys, ref, "--insecure", "--json")
        assert code == exitcodes.GATE_FAILED, err
        assert _cli_findings(out) == _cli_findings(local)
        assert f"@{digest}" in out


def test_cli_errors_are_exit_2_without_traceback(
        oci_server: Server, pushed: tuple[Path, str], cli_db: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    base = f"oci://{oci_server.url}/scan/app"
    cases = [
        ((f"{base}:no-such-tag", "--insecure"), "scan/app:no-such-tag does not exist"),
        ((f"{base}@{ZERO}", "--insecure"), f"scan/app@{ZERO} does not exist"),
        (("oci://127.0.0.1:1/scan/app:v1", "--insecure"), "unreachable"),
        ((f"{base}:v1",), "--insecure"),  # HTTPS to a plain-HTTP registry
        (("oci://me:pa55word@127.0.0.1:1/scan/app:v1",), "no user name or password"),
        ((f"{base}",), "neither a tag nor a digest"),
    ]
    for argv, expected in cases:
        code, out, err = _cli(capsys, *argv)
        assert code == exitcodes.ERROR, (argv, out, err)
        assert expected in err, (argv, err)
        assert "Traceback" not in out + err
        assert "pa55word" not in out + err


def test_cli_local_and_remote_images_together(
        oci_server: Server, pushed: tuple[Path, str], cli_db: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    layout, digest = pushed
    code, out, err = _cli(capsys, str(layout), f"oci://{oci_server.url}/scan/app:v1",
                          "--insecure", "--json")
    assert code == exitcodes.GATE_FAILED, err
    step = json.loads(out)["steps"][0]
    assert step["metrics"]["images"] == 2
    assert f"resolved to {digest}" in step["message"]
