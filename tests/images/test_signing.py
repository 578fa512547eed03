"""Image signatures (cosign layout + OCI referrer) and scan attestations against a real registry
(Debian's docker-registry), signed with a key file."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from image_builders import build_oci_layout

from secpipe.images.registry import RegistryClient, push_image
from secpipe.images.signing import (
    ATTESTATION_ARTIFACT_TYPE,
    SIGNATURE_ARTIFACT_TYPE,
    SIMPLESIGNING_MEDIA_TYPE,
    ImageSignature,
    ImageSignatureError,
    attest_image,
    check_payload,
    push_attestation,
    push_signature,
    referrers_tag,
    sign_and_store,
    sign_image,
    signature_tag,
    simple_signing_payload,
    verify_image,
)
from secpipe.keys.signers import LocalKeyFile
from servers import Server, oci_server

__all__ = ["oci_server"]


@pytest.fixture
def key(tmp_path: Path) -> LocalKeyFile:
    return LocalKeyFile(tmp_path / "keys" / "signing.pem")


def _push(server: Server, tmp_path: Path, repo: str, tag: str, content: bytes) -> str:
    folder = tmp_path / f"layout-{tag}-{len(content)}"
    build_oci_layout(folder, [{"app/served.txt": content}])
    return push_image(folder, None, server.url, repo, tag, insecure=True).digest


def test_payload_is_cosign_simple_signing() -> None:
    digest = "sha256:" + "ab" * 32
    payload = json.loads(simple_signing_payload("reg:5000/team/app", digest, {"run": "42"}))
    assert payload == {"critical": {"identity": {"docker-reference": "reg:5000/team/app"},
                                    "image": {"docker-manifest-digest": digest},
                                    "type": "cosign container image signature"},
                       "optional": {"run": "42"}}
    assert signature_tag(digest) == "sha256-" + "ab" * 32 + ".sig"
    assert check_payload(simple_signing_payload("r/x", digest), digest, "r/x") is None
    assert "not sha256:" in str(check_payload(simple_signing_payload("r/x", digest),
                                              "sha256:" + "cd" * 32, "r/x"))
    assert "names" in str(check_payload(simple_signing_payload("r/y", digest), digest, "r/x"))
    assert check_payload(b"\xff not json", digest, "r/x") is not None


def test_bad_annotations_and_verdicts(key: LocalKeyFile) -> None:
    digest = "sha256:" + "ab" * 32
    with pytest.raises(ImageSignatureError):
        simple_signing_payload("r/x", digest, {"k": 1})  # type: ignore[dict-item,unused-ignore]
    with pytest.raises(ImageSignatureError):
        attest_image(digest, {"x": object()}, key, "r/x")


def test_sign_store_and_verify(oci_server: Server, tmp_path: Path, key: LocalKeyFile) -> None:
    digest = _push(oci_server, tmp_path, "w4/signed", "v1", b"good image\n")
    stored = sign_and_store(oci_server.url, "w4/signed", digest, key, insecure=True,
                            annotations={"pipeline": "devsecops"},
                            verdicts={"scan-image": {"passed": True, "critical": 0}})
    assert stored.signature_tag == signature_tag(digest)
    assert stored.fallback_index is not None  # distribution 2.8 has no referrers API
    client = RegistryClient(oci_server.url, insecure=True)
    sig = client.get_manifest("w4/signed", stored.signature_tag)
    assert sig is not None
    layer = sig.content["layers"][0]
    assert layer["mediaType"] == SIMPLESIGNING_MEDIA_TYPE
    assert "dev.cosignproject.cosign/signature" in layer["annotations"]
    index = client.get_manifest("w4/signed", referrers_tag(digest))
    assert index is not None
    kinds = {entry["artifactType"] for entry in index.content["manifests"]}
    assert kinds == {SIGNATURE_ARTIFACT_TYPE, ATTESTATION_ARTIFACT_TYPE}
    referrer = client.get_manifest("w4/signed", stored.referrer)
    assert referrer is not None and referrer.content["subject"]["digest"] == digest

    result = verify_image(oci_server.url, "w4/signed", "v1", key.public_pem(), insecure=True,
                          require_attestation=True)
    assert result.passed, result.problems
    assert result.digest == digest
    assert any(v.startswith("tag ") for v in result.valid_signatures)
    assert any(v.startswith("referrer ") for v in result.valid_signatures)
    assert result.attestation is not None
    assert result.attestation["verdicts"] == {"scan-image": {"passed": True, "critical": 0}}
    by_digest = verify_image(oci_server.url, "w4/signed", digest, key.public_pem(),
                             insecure=True)
    assert by_digest.passed


def test_retagged_unsigned_image_fails(oci_server: Server, tmp_path: Path,
                                       key: LocalKeyFile) -> None:
    digest = _push(oci_server, tmp_path, "w4/retag", "prod", b"signed\n")
    sign_and_store(oci_server.url, "w4/retag", digest, key, insecure=True)
    assert verify_image(oci_server.url, "w4/retag", "prod", key.public_pem(),
                        insecure=True).passed
    other = _push(oci_server, tmp_path, "w4/retag", "prod", b"unsigned replacement\n")
    result = verify_image(oci_server.url, "w4/retag", "prod", key.public_pem(), insecure=True)
    assert not result.passed
    assert result.digest == other
    assert any("no cosign signature tag" in p for p in result.problems)


def test_signature_copied_from_another_digest_fails(oci_server: Server, tmp_path: Path,
                                                    key: LocalKeyFile) -> None:
    signed = _push(oci_server, tmp_path, "w4/copy", "a", b"signed one\n")
    sign_and_store(oci_server.url, "w4/copy", signed, key, insecure=True)
    other = _push(oci_server, tmp_path, "w4/copy", "b", b"the other one\n")
    client = RegistryClient(oci_server.url, insecure=True)
    sig = client.get_manifest("w4/copy", signature_tag(signed))
    assert sig is not None
    client.put_manifest("w4/copy", signature_tag(other), sig.raw, sig.media_type)
    result = verify_image(oci_server.url, "w4/copy", "b", key.public_pem(), insecure=True)
    assert not result.passed
    assert any("payload signs" in p for p in result.problems)


def test_tampered_payload_fails(oci_server: Server, tmp_path: Path, key: LocalKeyFile) -> None:
    digest = _push(oci_server, tmp_path, "w4/tamper-sig", "v1", b"image\n")
    reference = f"{oci_server.url}/w4/tamper-sig"
    honest = sign_image(digest, key, reference)
    forged = ImageSignature(reference, digest,
                            honest.payload.replace(b'"optional":null', b'"optional":{"x":"y"}'),
                            honest.signature, honest.key_id)
    assert forged.payload != honest.payload
    push_signature(RegistryClient(oci_server.url, insecure=True), "w4/tamper-sig", forged)
    result = verify_image(oci_server.url, "w4/tamper-sig", "v1", key.public_pem(), insecure=True)
    assert not result.passed
    assert any("does not verify" in p for p in result.problems)


def test_wrong_key_and_missing_attestation_fail(oci_server: Server, tmp_path: Path,
                                                key: LocalKeyFile) -> None:
    digest = _push(oci_server, tmp_path, "w4/wrongkey", "v1", b"image\n")
    sign_and_store(oci_server.url, "w4/wrongkey", digest, key, insecure=True)
    other = LocalKeyFile(tmp_path / "other" / "k.pem")
    assert not verify_image(oci_server.url, "w4/wrongkey", "v1", other.public_pem(),
                            insecure=True).passed
    result = verify_image(oci_server.url, "w4/wrongkey", "v1", key.public_pem(), insecure=True,
                          require_attestation=True)
    assert not result.passed
    assert any("no valid scan attestation" in p for p in result.problems)


def test_signature_from_another_repository_fails(oci_server: Server, tmp_path: Path,
                                                 key: LocalKeyFile) -> None:
    digest = _push(oci_server, tmp_path, "w4/ident", "v1", b"ident\n")
    sig = sign_image(digest, key, f"{oci_server.url}/someone/else")
    push_signature(RegistryClient(oci_server.url, insecure=True), "w4/ident", sig)
    result = verify_image(oci_server.url, "w4/ident", "v1", key.public_pem(), insecure=True)
    assert not result.passed
    assert any("names" in p for p in result.problems)


def test_signature_annotation_is_base64_der(key: LocalKeyFile) -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    sig = sign_image("sha256:" + "12" * 32, key, "reg/x")
    public = serialization.load_pem_public_key(key.public_pem())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(base64.b64decode(sig.signature_b64), sig.payload, ec.ECDSA(hashes.SHA256()))


def test_garbage_signature_manifest_fails_cleanly(oci_server: Server, tmp_path: Path,
                                                  key: LocalKeyFile) -> None:
    digest = _push(oci_server, tmp_path, "w4/garbage", "v1", b"garbage\n")
    client = RegistryClient(oci_server.url, insecure=True)
    junk = client.push_blob_bytes("w4/garbage", b"\x00not json", SIMPLESIGNING_MEDIA_TYPE)
    empty = client.push_blob_bytes("w4/garbage", b"{}", "application/vnd.oci.empty.v1+json")
    layers = [{**junk.as_dict(), "annotations": {"dev.cosignproject.cosign/signature": "%%%"}},
              {**junk.as_dict()},
              {**junk.as_dict(), "annotations": {
                  "dev.cosignproject.cosign/signature": base64.b64encode(b"x" * 70).decode()}}]
    raw = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": empty.as_dict(), "layers": layers}).encode()
    client.put_manifest("w4/garbage", signature_tag(digest), raw,
                        "application/vnd.oci.image.manifest.v1+json")
    result = verify_image(oci_server.url, "w4/garbage", digest, key.public_pem(), insecure=True)
    assert not result.passed
    assert len([p for p in result.problems if p.startswith("tag ")]) == 3
    sign_and_store(oci_server.url, "w4/garbage", digest, key, insecure=True)
    assert verify_image(oci_server.url, "w4/garbage", digest, key.public_pem(),
                        insecure=True).passed


def test_referrers_and_attestations_of_another_digest_fail(oci_server: Server, tmp_path: Path,
                                                           key: LocalKeyFile) -> None:
    repo = "w4/cross"
    first = _push(oci_server, tmp_path, repo, "a", b"first\n")
    second = _push(oci_server, tmp_path, repo, "b", b"second\n")
    stored = sign_and_store(oci_server.url, repo, first, key, insecure=True)
    client = RegistryClient(oci_server.url, insecure=True)
    referrer = client.get_manifest(repo, stored.referrer)
    assert referrer is not None
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{**referrer.descriptor.as_dict(),
                            "artifactType": SIGNATURE_ARTIFACT_TYPE}]}
    client.put_manifest(repo, referrers_tag(second), json.dumps(index).encode(),
                        "application/vnd.oci.image.index.v1+json")
    result = verify_image(oci_server.url, repo, "b", key.public_pem(), insecure=True)
    assert not result.passed
    assert any("another subject" in p for p in result.problems)

    reference = f"{oci_server.url}/{repo}"
    push_signature(client, repo, sign_image(second, key, reference))
    push_attestation(client, repo, second,
                     attest_image(first, {"gate": "passed"}, key, reference))
    result = verify_image(oci_server.url, repo, "b", key.public_pem(), insecure=True,
                          require_attestation=True)
    assert result.valid_signatures and not result.passed
    assert any(f"not about {second}" in p for p in result.problems)
