"""Sign and verify a model (file or folder) in the OpenSSF model-signing format.

The signature is a Sigstore bundle (``application/vnd.dev.sigstore.bundle.v0.3+json``) holding a
DSSE envelope over an in-toto statement that lists the SHA-256 of every model file — exactly what
the ``model-signing`` library and its ``model_signing`` CLI write and read. The library hashes the
model (in parallel over files) and builds the payload; the signature itself comes from a
:class:`~secpipe.keys.signers.SigningKey`, so a Vault or KMS key signs without the private key
ever leaving it. Verification uses the library's own elliptic-key verifier.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from secpipe.core.errors import ConfigError, InputError
from secpipe.core.output import write_bytes
from secpipe.keys.signers import SigningKey, key_id

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
MAX_SIGNATURE_BYTES = 64 << 20


class VerificationFailed(Exception):
    """The signature does not verify: wrong key, tampered file, malformed bundle."""


@dataclass(frozen=True)
class SignedModel:
    """What signing produced."""

    model: Path
    """The model file or folder that was signed."""
    signature: Path
    """The Sigstore bundle written."""
    key_id: str
    """SHA-256 of the signer's PEM public key."""
    files: dict[str, str] = field(default_factory=dict)
    """Model file (relative to the model folder, or the file name) -> SHA-256 hex."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding (DSSE v1)."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def _hashing_config(model: Path, signature: Path, workers: int | None) -> Any:
    from model_signing import hashing

    config = hashing.Config().use_file_serialization(  # type: ignore[no-untyped-call]
        max_workers=workers)
    if model.is_dir():
        try:
            inside = signature.resolve().relative_to(model.resolve())
        except ValueError:
            inside = None
        if inside is not None:
            config.set_ignored_paths(paths=[str(inside)])
    return config


def _library() -> None:
    try:
        import model_signing  # noqa: F401
    except ImportError:
        raise ConfigError("signing needs the 'model-signing' package",
                          hint="pip install 'secpipe[provenance]'") from None


def sign_model(model: Path, signature: Path, key: SigningKey,
               workers: int | None = None) -> SignedModel:
    """Hash ``model`` and write its signature bundle to ``signature`` (atomically)."""
    _library()
    from google.protobuf import json_format
    from model_signing._signing import signing as ms_signing

    if not model.exists():
        raise InputError(f"model {model} does not exist")
    if model.is_symlink():
        raise InputError(f"model {model} is a symbolic link; sign the real path")
    try:
        manifest = _hashing_config(model, signature, workers).hash(model)
    except (OSError, ValueError) as exc:
        raise InputError(f"model {model}: cannot hash: {exc}".splitlines()[0]) from None
    statement = ms_signing.Payload(manifest).statement
    raw = json_format.MessageToJson(statement.pb).encode("utf-8")
    public = key.public_pem()
    sig = key.sign(pae(IN_TOTO_PAYLOAD_TYPE, raw))
    bundle = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": key_id(public)}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(raw).decode("ascii"),
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(sig).decode("ascii"), "keyid": ""}],
        },
    }
    write_atomic(signature, json.dumps(bundle, indent=2).encode("utf-8"))
    files = {rd.identifier: rd.digest.digest_hex for rd in manifest.resource_descriptors()}
    return SignedModel(model=model, signature=signature, key_id=key_id(public), files=files)


def check_inputs(model: Path, signature: Path) -> None:
    """The checks every verification starts with: the signature exists and is of a sane size,
    and the model exists."""
    if not signature.is_file():
        raise VerificationFailed(f"signature {signature} does not exist")
    if signature.stat().st_size > MAX_SIGNATURE_BYTES:
        raise VerificationFailed(f"signature {signature} is too large")
    if not model.exists():
        raise VerificationFailed(f"model {model} does not exist")


def verify_model(model: Path, signature: Path, public_pem: bytes) -> dict[str, str]:
    """Check ``signature`` against ``model`` with the trusted key; return the signed file digests.

    Raises :class:`VerificationFailed` with a one-line reason (naming the file that differs when
    the model was changed)."""
    _library()
    from model_signing import verifying

    check_inputs(model, signature)
    with tempfile.TemporaryDirectory(prefix="secpipe-verify-") as tmp:
        pub = Path(tmp) / "key.pub"
        pub.write_bytes(public_pem)
        config = verifying.Config().use_elliptic_key_verifier(  # type: ignore[no-untyped-call]
            public_key=pub)
        try:
            config.verify(model, signature)
        except Exception as exc:  # the library raises ValueError, KeyError, InvalidSignature …
            raise VerificationFailed(_reason(exc, model, signature)) from None
    return signed_files(signature)


def signed_files(signature: Path) -> dict[str, str]:
    """The file digests a bundle's payload lists (no signature check: call after verifying)."""
    try:
        bundle = json.loads(signature.read_text(encoding="utf-8"))
        statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
        return {r["name"]: r["digest"] for r in statement["predicate"]["resources"]}
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise VerificationFailed(f"signature {signature} is malformed ({type(exc).__name__})") \
            from None


def _reason(exc: Exception, model: Path, signature: Path) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    name = type(exc).__name__
    if name == "InvalidSignature":
        return f"signature {signature.name} does not verify with the trusted key"
    if text.startswith("Key mismatch"):
        return f"signature {signature.name} was made with a different key"
    if text.startswith("Signature mismatch"):
        return f"model does not match signature {signature.name}: " + describe_difference(
            model, signed_files(signature), signature)
    if isinstance(exc, json.JSONDecodeError | KeyError):
        return f"signature {signature.name} is malformed ({name})"
    return f"signature {signature.name} rejected: {name}: {text[:300]}"


_IGNORED = {".git", ".gitattributes", ".github", ".gitignore"}


def describe_difference(model: Path, signed: dict[str, str], signature: Path) -> str:
    """Name the files of ``model`` that differ from the signed digests (re-hashes the model)."""
    if model.is_file():
        actual = {".": sha256_hex(model)}
    else:
        actual = {}
        for path in sorted(model.rglob("*")):
            rel = path.relative_to(model)
            if rel.parts[0] in _IGNORED or not path.is_file() or path == signature:
                continue
            actual[rel.as_posix()] = sha256_hex(path)
    changed = sorted(n for n in signed.keys() & actual.keys() if signed[n] != actual[n])
    parts = [f"{model.name if n == '.' else n} differs from its signed digest"
             for n in changed[:5]]
    if missing := sorted(signed.keys() - actual.keys()):
        parts.append("missing: " + ", ".join(missing[:5]))
    if extra := sorted(actual.keys() - signed.keys()):
        parts.append("not signed: " + ", ".join(extra[:5]))
    return "; ".join(parts) or "the file list differs"


def sha256_hex(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """Write a signature or attestation where it is named: a regular file atomically (readers
    never see half a file; through a link, its target), a FIFO or device in place, a folder
    refused (:func:`secpipe.core.output.write_bytes`)."""
    write_bytes(path, data, "file")
