"""Image signatures and attestations stored in the registry beside the image, and their check.

A signature is over the image's manifest digest, made with any secpipe signing key (a key file,
a Vault/OpenBao transit key, an AWS KMS key: :class:`~secpipe.keys.signers.SigningKey`), as an
ECDSA P-256 / SHA-256 signature of a cosign "simple signing" payload::

    {"critical": {"identity": {"docker-reference": "HOST/REPO"},
                  "image": {"docker-manifest-digest": "sha256:…"},
                  "type": "cosign container image signature"},
     "optional": {…annotations…} or null}

It is stored twice:

- as cosign stores it: the tag ``sha256-<hex>.sig`` in the image's repository, an OCI manifest
  whose layer is the payload (media type ``application/vnd.dev.cosign.simplesigning.v1+json``)
  annotated ``dev.cosignproject.cosign/signature`` with the base64 signature (several signatures
  append layers to the same manifest, as cosign does);
- as an OCI 1.1 referrer: a manifest with ``artifactType`` :data:`SIGNATURE_ARTIFACT_TYPE`, the
  same layer, and ``subject`` = the image manifest. Registries without the referrers API get the
  OCI distribution spec's fallback: the tag ``sha256-<hex>`` holds an index of the referrers.

An attestation is a DSSE-signed in-toto statement whose subject is the image (its manifest
digest) and whose predicate (:data:`SCAN_PREDICATE_TYPE`) carries the scan verdicts, pushed as a
referrer with ``artifactType`` :data:`ATTESTATION_ARTIFACT_TYPE`.

:func:`verify_image` resolves a tag to the digest of the manifest bytes the registry serves and
passes only when a signature verifies with the trusted key AND its payload names that digest and
the expected repository: a re-tagged unsigned image, a signature copied from another digest and
a tampered payload all fail.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from secpipe import __version__
from secpipe.core.errors import InputError
from secpipe.images.registry import (
    Descriptor,
    Manifest,
    RegistryClient,
    RegistryError,
    check_digest,
    check_repo,
    descriptor,
)
from secpipe.keys.signers import SigningKey, key_id
from secpipe.provenance.attestation import STATEMENT_TYPE, sign_statement, validate_statement
from secpipe.provenance.modelsig import IN_TOTO_PAYLOAD_TYPE, VerificationFailed, pae

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_BLOB = b"{}"
SIMPLESIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
SIGNATURE_TYPE = "cosign container image signature"
SIGNATURE_ARTIFACT_TYPE = "application/vnd.dev.secpipe.image.signature.v1+json"
"""``artifactType`` of secpipe's signature referrers (the layer is cosign's payload)."""
ATTESTATION_ARTIFACT_TYPE = "application/vnd.dev.secpipe.image.attestation.v1+json"
"""``artifactType`` of secpipe's attestation referrers (the layer is a DSSE envelope)."""
DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
SCAN_PREDICATE_TYPE = "https://secpipe.dev/attestations/image-scan/v1"
MAX_PAYLOAD_BYTES = 64 << 10
MAX_ENVELOPE_BYTES = 4 << 20
MAX_SIGNATURE_LAYERS = 64
MAX_REFERRERS = 256


class ImageSignatureError(InputError):
    """A signature or attestation cannot be made or stored (bad digest, annotations, data)."""


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")


def signature_tag(digest: str) -> str:
    """cosign's tag for the signatures of ``digest``: ``sha256-<hex>.sig``."""
    return check_digest(digest).replace(":", "-") + ".sig"


def referrers_tag(digest: str) -> str:
    """The OCI referrers tag-schema fallback for ``digest``: ``sha256-<hex>``."""
    return check_digest(digest).replace(":", "-")


@dataclass(frozen=True)
class ImageSignature:
    """A signed simple-signing payload for one image digest."""

    reference: str
    """The ``docker-reference`` the payload names (``host/repo``)."""
    digest: str
    payload: bytes
    signature: bytes
    key_id: str

    @property
    def signature_b64(self) -> str:
        """The signature as cosign's annotation holds it."""
        return base64.b64encode(self.signature).decode("ascii")


@dataclass(frozen=True)
class StoredSignature:
    """Where :func:`push_signature` stored a signature."""

    signature_tag: str
    signature_manifest: str
    referrer: str
    fallback_index: str | None
    """Digest of the ``sha256-<hex>`` index when the registry lacks the referrers API."""


@dataclass(frozen=True)
class ImageVerification:
    """What :func:`verify_image` checked and found."""

    reference: str
    digest: str
    passed: bool
    checked: tuple[str, ...]
    problems: tuple[str, ...]
    valid_signatures: tuple[str, ...]
    """Where each valid signature was found (``tag …`` / ``referrer …``)."""
    attestation: Mapping[str, Any] | None = field(default=None, compare=False)
    """The verified attestation's predicate, when one was found and required or present."""


def simple_signing_payload(reference: str, digest: str,
                           annotations: Mapping[str, str] | None = None) -> bytes:
    """The cosign simple-signing payload bytes for ``digest`` of ``reference``."""
    check_digest(digest)
    if annotations is not None and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()):
        raise ImageSignatureError("signature annotations must map strings to strings")
    payload = {"critical": {"identity": {"docker-reference": reference},
                            "image": {"docker-manifest-digest": digest},
                            "type": SIGNATURE_TYPE},
               "optional": dict(annotations) if annotations else None}
    data = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ImageSignatureError(f"signature payload is {len(data)} bytes (limit "
                                  f"{MAX_PAYLOAD_BYTES})")
    return data


def sign_image(manifest_digest: str, signer: SigningKey, reference: str,
               annotations: Mapping[str, str] | None = None) -> ImageSignature:
    """Sign ``manifest_digest`` of ``reference`` (``host/repo``) with ``signer``."""
    payload = simple_signing_payload(reference, manifest_digest, annotations)
    return ImageSignature(reference, manifest_digest, payload, signer.sign(payload),
                          key_id(signer.public_pem()))


def attest_image(manifest_digest: str, verdicts: Mapping[str, Any], signer: SigningKey,
                 reference: str) -> bytes:
    """A DSSE envelope over an in-toto statement binding ``verdicts`` to the image digest."""
    check_digest(manifest_digest)
    try:
        predicate_verdicts = json.loads(json.dumps(dict(verdicts)))
    except (TypeError, ValueError):
        raise ImageSignatureError("attestation verdicts are not JSON data") from None
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": reference,
                     "digest": {"sha256": manifest_digest.removeprefix("sha256:")}}],
        "predicateType": SCAN_PREDICATE_TYPE,
        "predicate": {"image": f"{reference}@{manifest_digest}", "verdicts": predicate_verdicts,
                      "builder": {"id": "https://secpipe.dev/secpipe", "version": __version__}},
    }
    validate_statement(statement)
    envelope = sign_statement(statement, signer)
    if len(envelope) > MAX_ENVELOPE_BYTES:
        raise ImageSignatureError("attestation is too large")
    return envelope


# -- storing ------------------------------------------------------------------------------------
def _empty_config(client: RegistryClient, repo: str) -> Descriptor:
    return client.push_blob_bytes(repo, EMPTY_BLOB, EMPTY_MEDIA_TYPE)


def _push_referrer(client: RegistryClient, repo: str, subject: Descriptor, artifact_type: str,
                   layer: Mapping[str, Any]) -> tuple[str, str | None]:
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
                "config": _empty_config(client, repo).as_dict(), "layers": [dict(layer)],
                "subject": subject.as_dict()}
    raw = _canonical(manifest)
    digest = client.put_manifest(repo, _digest_of(raw), raw, OCI_MANIFEST)
    if client.referrers(repo, subject.digest) is not None:
        return digest, None
    # OCI distribution spec, "referrers tag schema": keep an index under sha256-<hex>
    tag = referrers_tag(subject.digest)
    current = client.get_manifest(repo, tag)
    entries = [] if current is None else [
        dict(e) for e in current.content.get("manifests") or [] if isinstance(e, Mapping)]
    if not any(e.get("digest") == digest for e in entries):
        entries.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": len(raw),
                        "artifactType": artifact_type})
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries[-MAX_REFERRERS:]}
    index_raw = _canonical(index)
    return digest, client.put_manifest(repo, tag, index_raw, OCI_INDEX)


def _digest_of(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def _subject(client: RegistryClient, repo: str, digest: str) -> Manifest:
    manifest = client.get_manifest(repo, check_digest(digest))
    if manifest is None:
        raise RegistryError(f"registry {client.host}: {repo}@{digest} does not exist (push the "
                            "image before signing it)")
    return manifest


def push_signature(client: RegistryClient, repo: str, signature: ImageSignature,
                   ) -> StoredSignature:
    """Store ``signature`` as cosign does (tag ``sha256-<hex>.sig``) and as an OCI referrer."""
    check_repo(repo)
    subject = _subject(client, repo, signature.digest).descriptor
    payload = client.push_blob_bytes(repo, signature.payload, SIMPLESIGNING_MEDIA_TYPE)
    layer = {**payload.as_dict(), "annotations": {SIGNATURE_ANNOTATION: signature.signature_b64}}
    tag = signature_tag(signature.digest)
    current = client.get_manifest(repo, tag)
    layers = [] if current is None else [
        dict(item) for item in current.content.get("layers") or [] if isinstance(item, Mapping)]
    if layer not in layers:
        layers.append(layer)
    layers = layers[-MAX_SIGNATURE_LAYERS:]
    config = client.push_blob_bytes(repo, _canonical({
        "architecture": "", "os": "", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [item["digest"] for item in layers]}}),
        OCI_CONFIG)
    sig_manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": config.as_dict(), "layers": layers}
    raw = _canonical(sig_manifest)
    sig_digest = client.put_manifest(repo, tag, raw, OCI_MANIFEST)
    referrer, fallback = _push_referrer(client, repo, subject, SIGNATURE_ARTIFACT_TYPE, layer)
    return StoredSignature(tag, sig_digest, referrer, fallback)


def push_attestation(client: RegistryClient, repo: str, digest: str, envelope: bytes) -> str:
    """Store a DSSE attestation as a referrer of image ``digest``; the referrer's digest."""
    subject = _subject(client, repo, digest).descriptor
    blob = client.push_blob_bytes(repo, envelope, DSSE_MEDIA_TYPE)
    referrer, _ = _push_referrer(client, repo, subject, ATTESTATION_ARTIFACT_TYPE,
                                 blob.as_dict())
    return referrer


def sign_and_store(registry: str, repo: str, digest: str, signer: SigningKey, *,
                   insecure: bool = False, annotations: Mapping[str, str] | None = None,
                   verdicts: Mapping[str, Any] | None = None, username: str | None = None,
                   password: str | None = None) -> StoredSignature:
    """Sign image ``repo@digest`` in ``registry`` and store the signature (and, with
    ``verdicts``, an attestation of them) next to it."""
    client = RegistryClient(registry, insecure=insecure, username=username, password=password)
    reference = f"{client.host}/{check_repo(repo)}"
    stored = push_signature(client, repo, sign_image(digest, signer, reference, annotations))
    if verdicts is not None:
        push_attestation(client, repo, digest, attest_image(digest, verdicts, signer, reference))
    return stored


# -- verification -------------------------------------------------------------------------------
def _public_key(public_pem: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_public_key(public_pem)
    except ValueError:
        raise VerificationFailed("the trusted key is not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise VerificationFailed("the trusted key is not an EC key")
    return key


def _ecdsa_ok(key: Any, signature: bytes, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def check_payload(payload: bytes, digest: str, identity: str) -> str | None:
    """None when the simple-signing payload names ``digest`` and ``identity``; else why not."""
    try:
        doc = json.loads(payload)
        critical = doc["critical"]
        signed_digest = critical["image"]["docker-manifest-digest"]
        signed_ref = critical["identity"]["docker-reference"]
        kind = critical["type"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return "payload is not a simple-signing document"
    if kind != SIGNATURE_TYPE:
        return f"payload type is {str(kind)[:80]!r}"
    if signed_digest != digest:
        return f"payload signs {str(signed_digest)[:80]}, not {digest}"
    if signed_ref != identity:
        return f"payload names {str(signed_ref)[:120]}, not {identity}"
    return None


def _signature_layers(manifest: Manifest) -> list[Mapping[str, Any]]:
    layers = manifest.content.get("layers")
    if not isinstance(layers, list):
        return []
    return [item for item in layers[:MAX_SIGNATURE_LAYERS] if isinstance(item, Mapping)
            and item.get("mediaType") == SIMPLESIGNING_MEDIA_TYPE]


def _check_layer(client: RegistryClient, repo: str, layer: Mapping[str, Any], key: Any,
                 digest: str, identity: str) -> str | None:
    try:
        desc = descriptor(layer, "signature layer")
        encoded = (layer.get("annotations") or {}).get(SIGNATURE_ANNOTATION)
        if not isinstance(encoded, str):
            return "layer has no signature annotation"
        signature = base64.b64decode(encoded, validate=True)
        payload = client.get_blob_bytes(repo, desc, MAX_PAYLOAD_BYTES)
    except (RegistryError, binascii.Error, AttributeError) as exc:
        return f"unreadable signature ({str(exc)[:160]})"
    if not _ecdsa_ok(key, signature, payload):
        return "signature does not verify with the trusted key"
    return check_payload(payload, digest, identity)


def _referrer_entries(client: RegistryClient, repo: str, digest: str) -> list[Mapping[str, Any]]:
    listed = client.referrers(repo, digest)
    if listed is not None:
        return listed[:MAX_REFERRERS]
    index = client.get_manifest(repo, referrers_tag(digest))
    if index is None:
        return []
    entries = index.content.get("manifests")
    return [e for e in entries[:MAX_REFERRERS] if isinstance(e, Mapping)] \
        if isinstance(entries, list) else []


def verify_envelope(raw: bytes, key: Any, digest: str) -> Mapping[str, Any]:
    """The predicate of a DSSE image attestation signed by ``key`` for ``digest``."""
    try:
        envelope = json.loads(raw)
        payload = base64.b64decode(envelope["payload"], validate=True)
        signatures = envelope["signatures"]
        payload_type = envelope["payloadType"]
    except (ValueError, KeyError, TypeError, RecursionError, binascii.Error):
        raise VerificationFailed("attestation is not a DSSE envelope") from None
    if payload_type != IN_TOTO_PAYLOAD_TYPE or not isinstance(signatures, list):
        raise VerificationFailed("attestation is not an in-toto DSSE envelope")
    message = pae(payload_type, payload)
    for entry in signatures[:16]:
        try:
            sig = base64.b64decode(entry["sig"], validate=True)
        except (KeyError, TypeError, binascii.Error):
            continue
        if not _ecdsa_ok(key, sig, message):
            continue
        try:
            statement = json.loads(payload)
        except (ValueError, RecursionError):
            raise VerificationFailed("attestation payload is not JSON") from None
        if not isinstance(statement, dict):
            raise VerificationFailed("attestation payload is not a statement")
        validate_statement(statement)
        if statement.get("predicateType") != SCAN_PREDICATE_TYPE:
            raise VerificationFailed("attestation predicate is "
                                     f"{str(statement.get('predicateType'))[:80]!r}")
        hexes = {s.get("digest", {}).get("sha256") for s in statement["subject"]
                 if isinstance(s, Mapping)}
        if digest.removeprefix("sha256:") not in hexes:
            raise VerificationFailed(f"attestation is not about {digest}")
        predicate = statement["predicate"]
        return dict(predicate) if isinstance(predicate, Mapping) else {}
    raise VerificationFailed("attestation signature does not verify with the trusted key")


def verify_image(registry: str, repo: str, digest_or_tag: str, public_pem: bytes, *,
                 insecure: bool = False, identity: str | None = None,
                 require_attestation: bool = False, username: str | None = None,
                 password: str | None = None) -> ImageVerification:
    """Check image ``repo:tag`` or ``repo@digest`` before deploy.

    Passes when at least one signature (cosign tag or referrer) verifies with ``public_pem`` and
    its payload names the digest of the manifest the registry serves and ``identity`` (default
    ``host/repo``); with ``require_attestation``, a scan attestation for that digest must verify
    too. Registry errors raise :class:`~secpipe.images.registry.RegistryError`.
    """
    client = RegistryClient(registry, insecure=insecure, username=username, password=password)
    check_repo(repo)
    key = _public_key(public_pem)
    expected = identity or f"{client.host}/{repo}"
    manifest = client.get_manifest(repo, digest_or_tag)
    if manifest is None:
        raise RegistryError(f"registry {client.host}: {repo}:{digest_or_tag} does not exist")
    digest = manifest.digest
    checked = [f"manifest {repo}:{digest_or_tag} hashes to {digest}",
               f"trusted key {key_id(public_pem)[:16]}…", f"identity {expected}"]
    problems: list[str] = []
    valid: list[str] = []
    tag = signature_tag(digest)
    sig_manifest = client.get_manifest(repo, tag)
    if sig_manifest is None:
        problems.append(f"no cosign signature tag {tag}")
    else:
        layers = _signature_layers(sig_manifest)
        checked.append(f"{len(layers)} signature(s) in tag {tag}")
        for i, layer in enumerate(layers):
            why = _check_layer(client, repo, layer, key, digest, expected)
            if why is None:
                valid.append(f"tag {tag} layer {i}")
            else:
                problems.append(f"tag {tag} layer {i}: {why}")
    entries = _referrer_entries(client, repo, digest)
    attestation: Mapping[str, Any] | None = None
    attested = False
    for entry in entries:
        kind = entry.get("artifactType")
        if kind not in (SIGNATURE_ARTIFACT_TYPE, ATTESTATION_ARTIFACT_TYPE):
            continue
        try:
            ref_digest = check_digest(str(entry.get("digest")), "referrer")
            referrer = client.get_manifest(repo, ref_digest)
        except RegistryError as exc:
            problems.append(f"referrer: {exc.message[:160]}")
            continue
        if referrer is None:
            problems.append(f"referrer {ref_digest} is listed but missing")
            continue
        subject = referrer.content.get("subject")
        if not isinstance(subject, Mapping) or subject.get("digest") != digest:
            problems.append(f"referrer {ref_digest} has another subject")
            continue
        if kind == SIGNATURE_ARTIFACT_TYPE:
            checked.append(f"signature referrer {ref_digest}")
            for layer in _signature_layers(referrer):
                why = _check_layer(client, repo, layer, key, digest, expected)
                if why is None:
                    valid.append(f"referrer {ref_digest}")
                else:
                    problems.append(f"referrer {ref_digest}: {why}")
            continue
        checked.append(f"attestation referrer {ref_digest}")
        att_layers = referrer.content.get("layers")
        for layer in att_layers[:4] if isinstance(att_layers, list) else []:
            try:
                desc = descriptor(layer, "attestation layer")
                raw = client.get_blob_bytes(repo, desc, MAX_ENVELOPE_BYTES)
                attestation = verify_envelope(raw, key, digest)
                attested = True
            except (RegistryError, VerificationFailed) as exc:
                problems.append(f"attestation {ref_digest}: {str(exc)[:160]}")
    if not valid:
        problems.append(f"no valid signature for {digest}")
    if require_attestation:
        checked.append("a scan attestation is required")
        if not attested:
            problems.append(f"no valid scan attestation for {digest}")
    passed = bool(valid) and (attested or not require_attestation)
    return ImageVerification(f"{client.host}/{repo}@{digest}", digest, passed, tuple(checked),
                             tuple(problems), tuple(valid), attestation)


__all__ = [
    "ATTESTATION_ARTIFACT_TYPE",
    "SCAN_PREDICATE_TYPE",
    "SIGNATURE_ARTIFACT_TYPE",
    "ImageSignature",
    "ImageSignatureError",
    "ImageVerification",
    "StoredSignature",
    "attest_image",
    "check_payload",
    "push_attestation",
    "push_signature",
    "sign_and_store",
    "sign_image",
    "signature_tag",
    "verify_envelope",
    "verify_image",
]

