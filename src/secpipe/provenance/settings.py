"""Key settings shared by the ``sign``, ``verify`` and ``load`` steps."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from secpipe.core.step import StepSettings
from secpipe.keys.signers import KeyOptions, is_keyless


class KeySettings(StepSettings):
    """Which key signs or verifies. Strings may hold secret references (``${env:…}``)."""

    key: str | None = None
    """``file:PATH`` (default ``$XDG_CONFIG_HOME/secpipe/keys/signing.pem``, the user's own key,
    generated on first use and never inside the project),
    ``vault-transit:MOUNT/NAME``, ``awskms:KEY-ID-OR-ALIAS`` or ``sigstore`` (keyless)."""
    public_key: str | None = None
    """Verification only: a trusted PEM public key file (default: the public half of ``key``)."""
    key_password: str | None = None
    """Password of an encrypted local key file (use a reference, e.g. ``${env:KEY_PASSWORD}``)."""
    vault_addr: str | None = None
    """Vault/OpenBao address (default ``VAULT_ADDR``)."""
    vault_token: str | None = None
    """Vault token (default ``VAULT_TOKEN``), e.g. ``${file:/run/secrets/vault-token}``."""
    aws_region: str | None = None
    """AWS region of the KMS key (default ``AWS_REGION``)."""
    aws_endpoint: str | None = None
    """KMS endpoint (default ``AWS_ENDPOINT_URL``)."""
    identity_token: str | None = None
    """``key: sigstore`` signing: the OIDC identity token (a reference such as
    ``${env:SIGSTORE_ID_TOKEN}``); required, secpipe never opens a browser login."""
    use_staging: bool = False
    """``key: sigstore``: use Sigstore's staging instance (testing only)."""
    identity: str | None = None
    """``key: sigstore`` verification: the signer identity the certificate must carry."""
    oidc_issuer: str | None = None
    """``key: sigstore`` verification: the OIDC issuer the certificate must name."""
    sigstore_timeout: float = Field(default=120.0, gt=0, le=3600)
    """``key: sigstore``: seconds to wait for Sigstore (trust root, Fulcio, Rekor)."""

    @model_validator(mode="after")
    def _keyless_settings(self) -> Self:
        keyless = is_keyless(self.key)
        literal = self.key is None or "${" not in self.key  # a reference is checked when resolved
        if keyless and self.public_key:
            raise ValueError("key: sigstore is keyless; public_key does not apply (verify with "
                             "identity and oidc_issuer)")
        if keyless and (self.key_password or self.vault_addr or self.vault_token):
            raise ValueError("key: sigstore is keyless; key_password/vault_* do not apply")
        if literal and not keyless:
            extra = [name for name in ("identity_token", "identity", "oidc_issuer")
                     if getattr(self, name)] + (["use_staging"] if self.use_staging else [])
            if extra:
                raise ValueError(f"key: {', '.join(extra)} only apply to key: sigstore "
                                 f"(key is {self.key or 'the default key file'!r})")
        return self

    @property
    def keyless(self) -> bool:
        """``key`` literally selects keyless signing (a reference is checked once resolved)."""
        return is_keyless(self.key)

    def options(self) -> KeyOptions:
        return KeyOptions(vault_addr=self.vault_addr, vault_token=self.vault_token,
                          aws_region=self.aws_region, aws_endpoint=self.aws_endpoint,
                          key_password=self.key_password, identity_token=self.identity_token,
                          use_staging=self.use_staging, identity=self.identity,
                          oidc_issuer=self.oidc_issuer, sigstore_timeout=self.sigstore_timeout)
