"""HashiCorp Vault / OpenBao: KV v2 secrets and transit signing keys (through ``hvac``).

The address and token come from ``VAULT_ADDR`` / ``VAULT_TOKEN`` (the variables Vault's own CLI
reads), or from a step's settings. Transit signing sends only the bytes to sign; the private key
never leaves Vault.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from secpipe.core.errors import ConfigError
from secpipe.keys.providers import pick_key, split_key

DEFAULT_ADDR = "http://127.0.0.1:8200"
TIMEOUT = 15.0


@dataclass(frozen=True)
class VaultConfig:
    """Where Vault is and how to authenticate."""

    addr: str
    """Base URL, e.g. ``https://vault.example:8200``."""
    token: str | None = None
    """Vault token (never logged; ``repr`` hides it)."""
    namespace: str | None = None
    """Vault Enterprise namespace, if any."""

    def __repr__(self) -> str:
        return f"VaultConfig(addr={self.addr!r}, token={'***' if self.token else None})"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> VaultConfig:
        return cls(addr=env.get("VAULT_ADDR") or env.get("BAO_ADDR") or DEFAULT_ADDR,
                   token=env.get("VAULT_TOKEN") or env.get("BAO_TOKEN") or None,
                   namespace=env.get("VAULT_NAMESPACE") or None)


def client(config: VaultConfig) -> Any:
    """An authenticated ``hvac.Client``; errors name the address, never the token."""
    try:
        import hvac
    except ImportError:
        raise ConfigError("Vault support needs the 'hvac' package",
                          hint="pip install 'secpipe[provenance]'") from None
    if not config.token:
        raise ConfigError(f"no Vault token for {config.addr}", hint="set VAULT_TOKEN")
    return hvac.Client(url=config.addr, token=config.token, namespace=config.namespace,
                       timeout=TIMEOUT)


def describe_error(exc: Exception, addr: str) -> str:
    """One line for a failed Vault call."""
    name = type(exc).__name__
    if name in ("ConnectionError", "ConnectTimeout", "ReadTimeout", "Timeout"):
        return f"Vault at {addr} is unreachable ({name})"
    if name in ("Forbidden", "Unauthorized"):
        return f"Vault at {addr} denied access (check the token and its policy)"
    if name == "InvalidPath":
        return "not found in Vault"
    if name == "VaultDown":
        return f"Vault at {addr} is sealed or down"
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"Vault error {name}: {first[:200]}"


def kv_secret(config: VaultConfig, ref: str) -> str:
    """``mount/path#key`` from a KV version 2 engine."""
    path, key = split_key(ref, "${vault:mount/path#key}")
    mount, _, sub = path.partition("/")
    if not sub:
        raise ConfigError("write the reference as ${vault:mount/path#key}")
    vault = client(config)
    try:
        answer = vault.secrets.kv.v2.read_secret_version(
            path=sub, mount_point=mount, raise_on_deleted_version=True)
    except Exception as exc:  # hvac and requests errors: reported by type, never with values
        raise ConfigError(f"{mount}/{sub}: {describe_error(exc, config.addr)}") from None
    data = answer.get("data", {}).get("data")
    if not isinstance(data, dict):
        raise ConfigError(f"{mount}/{sub} is not a KV v2 secret")
    return pick_key(data, key, f"Vault secret {mount}/{sub}")


class TransitKey:
    """An ECDSA P-256 key in Vault's transit engine."""

    def __init__(self, config: VaultConfig, mount: str, name: str) -> None:
        self.config = config
        self.mount = mount
        self.name = name
        self.label = f"vault-transit:{mount}/{name}"
        self._client = client(config)
        self._public: bytes | None = None

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        try:
            return fn(mount_point=self.mount, **kwargs)
        except Exception as exc:
            raise ConfigError(f"{self.label}: {what}: {describe_error(exc, self.config.addr)}") \
                from None

    def create(self) -> None:
        """Create the key if it does not exist (type ``ecdsa-p256``, not exportable)."""
        self._call("create key", self._client.secrets.transit.create_key, name=self.name,
                   key_type="ecdsa-p256")

    def public_pem(self) -> bytes:
        if self._public is None:
            answer = self._call("read key", self._client.secrets.transit.read_key, name=self.name)
            data = answer.get("data", {})
            if data.get("type") != "ecdsa-p256":
                raise ConfigError(f"{self.label}: key type is {data.get('type')!r}; secpipe signs "
                                  "with ecdsa-p256 keys")
            keys = data.get("keys", {})
            latest = str(data.get("latest_version", max((int(k) for k in keys), default=1)))
            pem = keys.get(latest, {}).get("public_key")
            if not pem:
                raise ConfigError(f"{self.label}: Vault returned no public key")
            self._public = str(pem).encode("ascii")
        return self._public

    def sign(self, data: bytes) -> bytes:
        """DER ECDSA signature over SHA-256(data); only the digest is sent to Vault."""
        digest = hashlib.sha256(data).digest()
        answer = self._call(
            "sign", self._client.secrets.transit.sign_data, name=self.name,
            hash_input=base64.b64encode(digest).decode("ascii"), hash_algorithm="sha2-256",
            prehashed=True, marshaling_algorithm="asn1",
        )
        signature = str(answer.get("data", {}).get("signature", ""))
        prefix, _, body = signature.rpartition(":")
        if not prefix.startswith("vault:") or not body:
            raise ConfigError(f"{self.label}: Vault returned no signature")
        return base64.b64decode(body)
