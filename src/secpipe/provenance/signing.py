"""The one place that chooses between key-based and keyless (Sigstore) signing of a model.

``sign`` (the step) and ``secpipe sign`` (the command) both call :func:`sign_with`: the key
reference is resolved, ``sigstore`` selects keyless signing (which needs an identity token and
cannot attest a run), anything else opens a signing key (file, Vault transit, AWS KMS).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from secpipe.core.errors import ConfigError
from secpipe.core.interfaces import Secrets
from secpipe.keys.signers import KeyOptions, SigningKey, is_keyless, open_signing_key
from secpipe.provenance.modelsig import SignedModel, sign_model


def check_keyless(attest: bool, identity_token: str | None) -> None:
    """``key: sigstore`` signs the model only: the run attestation is a DSSE envelope that a
    verifier re-checks with the signer's key, which keyless signing does not have."""
    if attest:
        raise ValueError("key: sigstore (keyless) does not attest the run; set attest: false "
                         "(a policy check of a keyless run then fails: there is no attestation)")
    if not identity_token:
        raise ValueError("key: sigstore needs identity_token (an OIDC token, e.g. "
                         "${env:SIGSTORE_ID_TOKEN}); secpipe never starts a browser login")


@dataclass(frozen=True)
class ModelSignature:
    """A model signed one way or the other."""

    signed: SignedModel
    """The signature bundle written and the files it covers."""
    label: str
    """How it was signed, for messages (``file …/secpipe/keys/signing.pem``, ``sigstore``)."""
    key: SigningKey | None
    """The key that signed (it also signs the attestation); None for keyless signing."""


def sign_with(model: Path, signature: Path, key_ref: str | None, *, project_root: Path,
              secrets: Secrets, options: KeyOptions, state_dir: str | Path, attest: bool,
              what: str, workers: int | None = None,
              timeout: float | None = None) -> ModelSignature:
    """Sign ``model`` into ``signature`` with the key ``key_ref`` names (None: the default key
    file). ``what`` prefixes configuration errors (``sign.with``, ``--key``)."""
    ref = secrets.resolve(key_ref.strip(), "key") if key_ref else None
    if is_keyless(ref):
        from secpipe.provenance.keyless import sign_keyless

        token = secrets.resolve_optional(options.identity_token, "identity_token")
        try:
            check_keyless(attest, token)
        except ValueError as exc:
            raise ConfigError(f"{what}: {exc}") from None
        limit = options.sigstore_timeout if timeout is None else min(timeout,
                                                                     options.sigstore_timeout)
        signed = sign_keyless(model, signature, token, options.use_staging, limit, workers)
        return ModelSignature(signed, "sigstore (keyless)", None)
    key = open_signing_key(key_ref, project_root, secrets, options, state_dir)
    return ModelSignature(sign_model(model, signature, key, workers), key.label, key)
