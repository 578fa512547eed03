"""Keyless (Sigstore) signing and verification of a model, through the ``model-signing`` library.

Signing: the library's Sigstore signer turns an OIDC identity token into a short-lived Fulcio
certificate for an ephemeral key, signs the same in-toto payload the key-based path signs and
logs it in Rekor; the result is the same model-signing bundle (with a certificate instead of a
key hint). Verification: the library's Sigstore verifier checks the certificate chain, the Rekor
entry and that the certificate names the expected identity and OIDC issuer.

Both need the Sigstore services (the trust root is fetched over TUF first), so every network
part runs under a deadline and any failure is a one-line :class:`StepError`. secpipe never starts
an interactive (browser) login: an identity token is required.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from secpipe.core.errors import ConfigError, InputError, StepError
from secpipe.keys.signers import SigstoreIdentity
from secpipe.provenance.modelsig import (
    SignedModel,
    VerificationFailed,
    _hashing_config,
    _library,
    _reason,
    check_inputs,
    signed_files,
    write_atomic,
)

T = TypeVar("T")
NETWORK_HINT = ("keyless signing and verification need network access to Sigstore (its TUF "
                "trust root, Fulcio and Rekor)")


def with_deadline(what: str, seconds: float, call: Callable[[], T]) -> T:
    """Run ``call`` in a daemon thread; a timeout or any exception is a one-line StepError."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # reported to the caller below
            box["error"] = exc

    worker = threading.Thread(target=target, name="secpipe-sigstore", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise StepError(f"{what}: no answer from Sigstore within {seconds:g}s", hint=NETWORK_HINT)
    if "error" in box:
        exc = box["error"]
        if isinstance(exc, VerificationFailed):
            raise exc
        text = (str(exc).strip().splitlines() or [""])[0][:300]
        raise StepError(f"{what}: {type(exc).__name__}: {text}".rstrip(": "), hint=NETWORK_HINT)
    value: T = box["value"]
    return value


def sign_keyless(model: Path, signature: Path, identity_token: str | None, use_staging: bool,
                 timeout: float, workers: int | None = None) -> SignedModel:
    """Hash ``model`` (locally), then sign it with Sigstore and write the bundle atomically."""
    _library()
    from model_signing._signing import sign_sigstore
    from model_signing._signing import signing as ms_signing

    if not identity_token:
        raise ConfigError("key sigstore: identity_token is not set (an OIDC identity token, e.g. "
                          "${env:SIGSTORE_ID_TOKEN}); secpipe does not start a browser login")
    if not model.exists():
        raise InputError(f"model {model} does not exist")
    if model.is_symlink():
        raise InputError(f"model {model} is a symbolic link; sign the real path")
    try:
        manifest = _hashing_config(model, signature, workers).hash(model)
    except (OSError, ValueError) as exc:
        raise InputError(f"model {model}: cannot hash: {exc}".splitlines()[0]) from None
    payload = ms_signing.Payload(manifest)
    check_token(identity_token)

    def sign() -> Any:
        signer = sign_sigstore.Signer(identity_token=identity_token, use_staging=use_staging,
                                      use_ambient_credentials=False)
        return signer.sign(payload)

    signed = with_deadline(f"keyless signing of {model.name}", timeout, sign)
    bundle_json: str = signed.bundle.to_json()
    write_atomic(signature, bundle_json.encode("utf-8"))
    files = {rd.identifier: rd.digest.digest_hex for rd in manifest.resource_descriptors()}
    return SignedModel(model=model, signature=signature, key_id="sigstore:" + _subject(bundle_json),
                       files=files)


def check_token(token: str) -> None:
    """Refuse a token that is not a current Sigstore OIDC token, before any network call (the
    error never repeats the token)."""
    from sigstore.oidc import IdentityError, IdentityToken

    try:
        IdentityToken(token)
    except IdentityError as exc:
        reason = (str(exc).strip().splitlines() or ["malformed"])[0][:200]
        raise ConfigError(f"key sigstore: identity_token is not a usable OIDC identity token "
                          f"({reason})") from None


def _subject(bundle_json: str) -> str:
    """A short label of the signing certificate (its first 16 base64 characters)."""
    try:
        material = json.loads(bundle_json)["verificationMaterial"]
        cert = material.get("certificate") or material["x509CertificateChain"]["certificates"][0]
        return str(cert["rawBytes"])[:16]
    except (ValueError, KeyError, TypeError, IndexError):
        return "certificate"


def is_keyless_bundle(signature: Path) -> bool:
    """Whether a bundle carries a certificate (keyless) rather than a public-key hint."""
    try:
        material = json.loads(signature.read_text(encoding="utf-8"))["verificationMaterial"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise VerificationFailed(f"signature {signature} is malformed ({type(exc).__name__})") \
            from None
    return isinstance(material, dict) and bool(
        material.get("certificate") or material.get("x509CertificateChain"))


def verify_keyless(model: Path, signature: Path, trust: SigstoreIdentity,
                   timeout: float = 120.0) -> dict[str, str]:
    """Verify a keyless bundle against the expected identity; return the signed file digests."""
    _library()
    from model_signing import verifying

    check_inputs(model, signature)
    if not is_keyless_bundle(signature):
        raise VerificationFailed(f"signature {signature.name} was made with a key, not keyless "
                                 "(Sigstore); verify it with key or public_key")

    def verify() -> None:
        config = verifying.Config().use_sigstore_verifier(  # type: ignore[no-untyped-call]
            identity=trust.identity, oidc_issuer=trust.oidc_issuer, use_staging=trust.use_staging)
        try:
            config.verify(model, signature)
        except Exception as exc:  # the library raises ValueError, VerificationError …
            raise VerificationFailed(_reason(exc, model, signature)) from None

    with_deadline(f"keyless verification of {signature.name}", timeout, verify)
    return signed_files(signature)
