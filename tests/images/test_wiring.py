"""Images wired into the engine: scan-image takes build-image's ``image`` artifact (or skips),
``sign`` signs that image and attests the run's verdicts, ``store`` pushes image, signature and
attestation to a real registry (Debian's docker-registry), ``secpipe verify oci://…`` checks it:
the signed image passes, a re-tagged unsigned one fails. Images are built by code, no buildah."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from image_builders import build_oci_layout

from secpipe.cli.main import main
from secpipe.cli.verify_cmd import parse_image_ref
from secpipe.core.artifacts import Artifact
from secpipe.core.errors import InputError, StoreError
from secpipe.core.findings import Finding, Location, Severity
from secpipe.core.results import FinishedStep, GateDecision, StepResult, StepStatus
from secpipe.core.step import StepContext
from secpipe.images.registry import push_image
from secpipe.images.signing import verify_image
from secpipe.provenance.sign_step import (
    IMAGE_ATTESTATION_NAME,
    IMAGE_SIGNATURE_NAME,
    SignSettings,
    SignStep,
    scan_verdicts,
    split_reference,
)
from secpipe.scanners.image.step import NOTHING_TO_SCAN, ImageScanSettings, ImageScanStep
from secpipe.stores.steps import StoreStep, StoreStepSettings
from servers import Server, oci_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scanners" / "image"))
import image_scan_helpers as h

__all__ = ["oci_server"]


def _built(layout: Path, status: StepStatus = StepStatus.PASSED) -> FinishedStep:
    from secpipe.images.layout import open_image

    artifacts: tuple[Artifact, ...] = ()
    if status is StepStatus.PASSED:
        with open_image(layout) as image:
            digest = image.manifest_digest
        assert digest is not None
        artifacts = (Artifact(name="image", path=str(layout), digest=digest, size=1,
                              media_type="application/vnd.oci.image.manifest.v1+json"),)
    return FinishedStep("image", "build-image", "build-image",
                        StepResult(status=status, artifacts=artifacts, message="built"))


def _scanned() -> FinishedStep:
    finding = Finding.create(rule_id="image.vulnerable", title="vulnerable", severity=Severity.HIGH,
                             message="libc6: CVE-2023-4911", location=Location(path="img"),
                             scanner="scan-image")
    return FinishedStep("image-scan", "scan-image", "image-scan",
                        StepResult(findings=(finding,), message="1 vulnerable"))


def _gate() -> FinishedStep:
    return FinishedStep("image-gate", "gate", "image-gate",
                        StepResult(gate=GateDecision(passed=True), message="passed"))


def _ctx(root: Path, step_id: str, earlier: tuple[FinishedStep, ...]) -> StepContext:
    return StepContext(project_root=root, workdir=root / ".secpipe" / "runs" / "r1" / step_id,
                       run_id="r1", pipeline="devsecops", step_id=step_id, earlier=earlier)


def _layout(tmp_path: Path, name: str, content: bytes) -> Path:
    folder = tmp_path / name
    build_oci_layout(folder, [{"app/served.txt": content}])
    return folder


@pytest.fixture
def key(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "signing.pem"


# -- scan-image ----------------------------------------------------------------------------------
def test_scan_image_skips_without_an_image(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, "image-scan", (_built(tmp_path, StepStatus.SKIPPED),))
    result = ImageScanStep().run(ctx, ImageScanSettings())
    assert result.status is StepStatus.SKIPPED and result.message == NOTHING_TO_SCAN


def test_scan_image_scans_the_built_image(tmp_path: Path) -> None:
    db = h.make_database(tmp_path / "db")
    layout = h.build_layout(tmp_path / "built")
    result = ImageScanStep().run(_ctx(tmp_path, "image-scan", (_built(layout),)),
                                 ImageScanSettings(database=str(db)))
    assert result.status is StepStatus.PASSED, result.message
    assert result.metrics["images"] == 1.0 and result.metrics["packages"] > 0
    assert any(f.rule_id == "image.vulnerable" for f in result.findings)


# -- sign ----------------------------------------------------------------------------------------
def test_sign_image_skips_without_an_image_or_a_reference(tmp_path: Path, key: Path) -> None:
    result = SignStep().run(_ctx(tmp_path, "sign-image", (_built(tmp_path, StepStatus.SKIPPED),)),
                            SignSettings(key=f"file:{key}", model="x.pkl",
                                         reference="reg:5000/a/b"))
    assert result.status is StepStatus.SKIPPED
    assert result.message.startswith("nothing found: no image built")
    layout = _layout(tmp_path, "img", b"x\n")
    result = SignStep().run(_ctx(tmp_path, "sign-image", (_built(layout),)),
                            SignSettings(key=f"file:{key}"))
    assert result.status is StepStatus.SKIPPED and result.message.startswith("not configured:")
    assert not key.exists()


def test_sign_settings_refuse_a_bad_reference() -> None:
    for bad in ("http://reg/a", "reg", "reg/a:tag", "reg/A"):
        with pytest.raises(ValueError):
            SignSettings(reference=bad)
    assert split_reference("127.0.0.1:5050/team/app") == ("127.0.0.1:5050", "team/app")


def test_verdicts_count_findings_and_gates() -> None:
    verdicts = scan_verdicts([_scanned(), _gate()])
    assert verdicts == {"scanners": {"image-scan": {"kind": "scan-image", "status": "passed",
                                                    "findings": 1,
                                                    "by_severity": {"high": 1}}},
                        "gates": {"image-gate": {"passed": True, "reasons": []}}}


def _sign_and_store(oci_server: Server, tmp_path: Path, key: Path, repo: str,
                    layout: Path) -> tuple[StepResult, StepResult]:
    reference = f"{oci_server.url}/{repo}"
    earlier = (_built(layout), _scanned(), _gate())
    signed = SignStep().run(_ctx(tmp_path, "sign-image", earlier),
                            SignSettings(key=f"file:{key}", reference=reference))
    stored = StoreStep().run(
        _ctx(tmp_path, "store-image", (*earlier, FinishedStep("sign-image", "sign", "sign-image",
                                                              signed))),
        StoreStepSettings(registry=f"http://{oci_server.url}", tag="v1"))
    return signed, stored


def test_sign_store_verify(oci_server: Server, tmp_path: Path, key: Path) -> None:
    layout = _layout(tmp_path, "img", b"served by the model\n")
    signed, stored = _sign_and_store(oci_server, tmp_path, key, "wire/app", layout)
    assert signed.status is StepStatus.PASSED, signed.message
    assert {a.name for a in signed.artifacts} == {IMAGE_SIGNATURE_NAME, IMAGE_ATTESTATION_NAME}
    record = json.loads(Path(signed.artifacts[0].path).read_text())
    assert record["reference"] == f"{oci_server.url}/wire/app"
    assert stored.status is StepStatus.PASSED, stored.message
    image = stored.artifacts[0]
    assert image.name == "image" and image.path == f"oci://{oci_server.url}/wire/app@{image.digest}"
    assert image.digest == record["digest"]
    public = Path(f"{key}.pub").read_bytes()
    result = verify_image(oci_server.url, "wire/app", "v1", public, insecure=True,
                          require_attestation=True)
    assert result.passed, result.problems
    assert result.attestation is not None
    verdicts = result.attestation["verdicts"]
    assert verdicts["scanners"]["image-scan"]["findings"] == 1
    assert verdicts["gates"]["image-gate"]["passed"] is True


def test_store_refuses_a_signature_for_another_place(oci_server: Server, tmp_path: Path,
                                                     key: Path) -> None:
    layout = _layout(tmp_path, "img", b"elsewhere\n")
    earlier = (_built(layout),)
    signed = SignSettings(key=f"file:{key}", reference=f"{oci_server.url}/wire/one")
    result = SignStep().run(_ctx(tmp_path, "sign-image", earlier), signed)
    with pytest.raises(StoreError, match="verification would fail"):
        StoreStep().run(_ctx(tmp_path, "store-image",
                             (*earlier, FinishedStep("sign-image", "sign", "s", result))),
                        StoreStepSettings(registry=f"http://{oci_server.url}",
                                          repository="wire/two"))


def test_store_image_unsigned_and_unconfigured(oci_server: Server, tmp_path: Path) -> None:
    layout = _layout(tmp_path, "img", b"unsigned\n")
    ctx = _ctx(tmp_path, "store-image", (_built(layout),))
    result = StoreStep().run(ctx, StoreStepSettings(paths=[]))
    assert result.status is StepStatus.SKIPPED and result.message.startswith("not configured:")
    result = StoreStep().run(ctx, StoreStepSettings(registry=oci_server.url, insecure=True,
                                                    repository="wire/unsigned"))
    assert result.status is StepStatus.PASSED and "UNSIGNED" in result.message
    none = StoreStep().run(_ctx(tmp_path, "s", (_built(tmp_path, StepStatus.SKIPPED),)),
                           StoreStepSettings(registry=oci_server.url))
    assert none.status is StepStatus.SKIPPED and none.message.startswith("nothing found:")


# -- secpipe verify ------------------------------------------------------------------------------
def test_parse_image_ref() -> None:
    digest = "sha256:" + "ab" * 32
    assert parse_image_ref(f"oci://127.0.0.1:5050/team/app@{digest}") == (
        "127.0.0.1:5050", "team/app", digest)
    assert parse_image_ref("oci://reg/app:v1") == ("reg", "app", "v1")
    for bad in ("oci://reg", "oci://reg/app", "oci://reg/app@sha256:12", "reg/app:v1"):
        with pytest.raises(InputError):
            parse_image_ref(bad)


def test_cli_verify_signed_passes_retagged_unsigned_fails(
        oci_server: Server, tmp_path: Path, key: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    layout = _layout(tmp_path, "img", b"cli signed\n")
    _, stored = _sign_and_store(oci_server, tmp_path, key, "wire/cli", layout)
    assert stored.status is StepStatus.PASSED, stored.message
    digest = stored.artifacts[0].digest
    base = ["verify", "--project", str(tmp_path), "--key", f"{key}.pub", "--insecure"]
    assert main([*base, f"oci://{oci_server.url}/wire/cli@{digest}"]) == 0
    assert main([*base, "--require-attestation", f"oci://{oci_server.url}/wire/cli:v1"]) == 0
    assert "verified image" in capsys.readouterr().out
    # another image pushed under the signed tag: unsigned, it fails
    other = _layout(tmp_path, "other", b"re-tagged, unsigned\n")
    push_image(other, None, oci_server.url, "wire/cli", "v1", insecure=True)
    assert main([*base, f"oci://{oci_server.url}/wire/cli:v1"]) == 1
    out = capsys.readouterr().out
    assert "verification FAILED" in out and "no valid signature" in out
    assert main([*base, "oci://nowhere"]) == 2


def test_a_tampered_signature_record_is_a_clear_error(oci_server: Server, tmp_path: Path,
                                                       key: Path) -> None:
    layout = _layout(tmp_path, "img", b"tampered record\n")
    earlier = (_built(layout),)
    signed = SignStep().run(_ctx(tmp_path, "sign-image", earlier),
                            SignSettings(key=f"file:{key}",
                                         reference=f"{oci_server.url}/wire/tamper"))
    record_path = Path(signed.artifacts[0].path)
    record = json.loads(record_path.read_text())
    ctx = _ctx(tmp_path, "store-image",
               (*earlier, FinishedStep("sign-image", "sign", "sign-image", signed)))
    settings = StoreStepSettings(insecure=True)
    for broken, match in ((b"\xff{not json", "unreadable"), (b"[1, 2]", "malformed"),
                          (json.dumps({**record, "signature": "%%%"}).encode(), "base64")):
        record_path.write_bytes(broken)
        with pytest.raises(StoreError, match=match):
            StoreStep().run(ctx, settings)


def test_cli_verify_unreachable_registry_is_exit_2(tmp_path: Path, key: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from secpipe.keys.signers import LocalKeyFile

    LocalKeyFile(key).public_pem()
    assert main(["verify", "-C", str(tmp_path), "--key", f"{key}.pub", "--insecure",
                 "oci://127.0.0.1:9/nothing/here:v1"]) == 2
    assert "127.0.0.1:9" in capsys.readouterr().err


def test_named_paths_are_scanned_even_when_they_are_the_root(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """``secpipe scan image /abs/layout`` roots the scan at the layout (paths ``["."]``): the
    named image is scanned, never mistaken for the unset default."""
    db = h.make_database(tmp_path / "db")
    layout = h.build_layout(tmp_path / "named")
    monkeypatch.setenv("SECPIPE_OSV_DB", str(db))
    monkeypatch.chdir(tmp_path / "db")
    code = main(["scan", "image", str(layout), "--json"])
    out = capsys.readouterr().out
    assert code == 1 and "image.vulnerable" in out
    result = ImageScanStep().run(_ctx(layout, "s", ()),
                                 ImageScanSettings(paths=["."], database=str(db)))
    assert result.status is StepStatus.PASSED and result.metrics["packages"] > 0
