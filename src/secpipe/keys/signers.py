"""Signing keys by reference: a local key file, a Vault/OpenBao transit key or an AWS KMS key.

References:

- none: the user's key, ``$XDG_CONFIG_HOME/secpipe/keys/signing.pem`` (``~/.config/…`` when the
  variable is unset), never a file inside the project (:func:`default_key_path`). A key an older
  secpipe left in the project (``.secpipe/keys/signing.pem``) is neither used, moved nor deleted:
  :func:`legacy_project_key` finds it so callers can warn, and a verifier names it in its hint.
- ``file:PATH`` (or a bare path): a PEM EC P-256 private key. Generated on first use with mode 0600
  in a 0700 folder (its public key beside it as ``PATH.pub``); a key readable by group or others
  is refused.
- ``vault-transit:MOUNT/NAME``: a transit key of type ``ecdsa-p256``.
- ``awskms:KEY-ID-OR-ALIAS``: an asymmetric ``ECC_NIST_P256`` KMS key.
- ``sigstore``: keyless (Sigstore): an ephemeral key certified by Fulcio for an OIDC identity
  token and logged in Rekor; verified against an expected identity and OIDC issuer
  (:class:`SigstoreIdentity`), never a key. Needs network.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from secpipe.core.errors import ConfigError
from secpipe.core.interfaces import Secrets
from secpipe.keys.aws import AwsConfig, KmsKey
from secpipe.keys.vault import TransitKey, VaultConfig

if TYPE_CHECKING:  # cryptography is the 'provenance' extra: imported where a key is used
    from cryptography.hazmat.primitives.asymmetric import ec

MAX_KEY_BYTES = 64 << 10
KEYLESS = "sigstore"
"""The ``key:`` value that selects keyless Sigstore signing."""


def is_keyless(ref: str | None) -> bool:
    """True when a (resolved) key reference selects keyless Sigstore signing."""
    return ref is not None and ref.strip().lower() == KEYLESS


@dataclass(frozen=True)
class SigstoreIdentity:
    """What a verifier trusts for a keyless signature: the signer's OIDC identity."""

    identity: str
    """The expected identity in the Fulcio certificate (an e-mail or a workflow URI)."""
    oidc_issuer: str
    """The expected OIDC issuer, e.g. ``https://accounts.google.com``."""
    use_staging: bool = False
    """Trust Sigstore's staging instance instead of production (testing only)."""
    timeout: float = 120.0
    """Seconds to wait for Sigstore (the trust root is fetched over the network)."""


class SigningKey(Protocol):
    """What signing needs from a key: its public half and an ECDSA P-256 / SHA-256 signature."""

    label: str

    def public_pem(self) -> bytes: ...

    def sign(self, data: bytes) -> bytes: ...


def key_id(public_pem: bytes) -> str:
    """The key's id: SHA-256 of its PEM SubjectPublicKeyInfo (as model-signing records it)."""
    return hashlib.sha256(public_pem).hexdigest()


@dataclass(frozen=True)
class KeyOptions:
    """Where remote keys live; secret references are resolved only when a key is opened."""

    vault_addr: str | None = None
    """Vault/OpenBao URL (default ``VAULT_ADDR``)."""
    vault_token: str | None = None
    """Vault token or a reference to one (default ``VAULT_TOKEN``)."""
    aws_region: str | None = None
    """AWS region (default ``AWS_REGION``)."""
    aws_endpoint: str | None = None
    """KMS endpoint (default ``AWS_ENDPOINT_URL``)."""
    key_password: str | None = None
    """Password of an encrypted local key file, or a reference to it."""
    identity_token: str | None = None
    """Keyless signing: the OIDC identity token, or a reference to it."""
    use_staging: bool = False
    """Keyless: use Sigstore's staging instance."""
    identity: str | None = None
    """Keyless verification: the expected signer identity."""
    oidc_issuer: str | None = None
    """Keyless verification: the expected OIDC issuer."""
    sigstore_timeout: float = 120.0
    """Keyless: seconds to wait for Sigstore."""


def _check_private_file(path: Path) -> None:
    info = path.stat()
    if info.st_mode & 0o077:
        raise ConfigError(
            f"signing key {path} is readable by group or others (mode "
            f"{stat.S_IMODE(info.st_mode):04o}); refusing to use it",
            hint=f"chmod 600 {path}",
        )
    if info.st_size > MAX_KEY_BYTES:
        raise ConfigError(f"signing key {path} is {info.st_size} bytes, too large for a key")


def _private_folder(folder: Path) -> None:
    """Create ``folder`` and the parents it needs with mode 0700 (exactly, whatever the umask)."""
    if folder.is_dir():
        return
    _private_folder(folder.parent)
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:  # created meanwhile by another process
        return
    folder.chmod(0o700)


def _write_private(path: Path, data: bytes) -> None:
    _private_folder(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


class LocalKeyFile:
    """An EC private key in a PEM file (the default: :func:`default_key_path`)."""

    def __init__(self, path: Path, password: str | None = None, generate: bool = True) -> None:
        self.path = path
        self.label = f"file:{path}"
        self._password = password
        self._generate = generate
        self._key: ec.EllipticCurvePrivateKey | None = None

    @property
    def public_path(self) -> Path:
        return self.path.with_name(self.path.name + ".pub")

    def _load(self) -> ec.EllipticCurvePrivateKey:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        if self._key is not None:
            return self._key
        if not self.path.exists():
            if not self._generate:
                raise ConfigError(f"signing key {self.path} does not exist")
            self._create()
        _check_private_file(self.path)
        secret = self._password.encode() if self._password else None
        try:
            key = serialization.load_pem_private_key(self.path.read_bytes(), secret)
        except (ValueError, TypeError) as exc:
            reason = "wrong or missing password" if "password" in str(exc).lower() else \
                "not a PEM private key"
            raise ConfigError(f"signing key {self.path}: {reason}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ConfigError(f"signing key {self.path} is not an EC P-256 key")
        self._key = key
        return key

    def _create(self) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        algorithm: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(self._password.encode())
            if self._password else serialization.NoEncryption())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                algorithm)
        try:
            _write_private(self.path, pem)
        except FileExistsError:  # another process created it first: use theirs
            return
        self.public_path.write_bytes(_public_pem(key.public_key()))

    def public_pem(self) -> bytes:
        return _public_pem(self._load().public_key())

    def sign(self, data: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        return self._load().sign(data, ec.ECDSA(hashes.SHA256()))


def _public_pem(key: ec.EllipticCurvePublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def config_home(environ: Mapping[str, str] | None = None) -> Path:
    """The user's configuration folder: ``$XDG_CONFIG_HOME`` when it holds an absolute path (the
    XDG rule: a relative one is ignored), else ``~/.config``."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_CONFIG_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg)
    home = env.get("HOME") or os.path.expanduser("~")
    if not home or home == "~" or not os.path.isabs(home):
        raise ConfigError("no folder for the default signing key: neither XDG_CONFIG_HOME nor "
                          "HOME is set", hint="name a key with key: file:PATH")
    return Path(home) / ".config"


def default_key_path(environ: Mapping[str, str] | None = None) -> Path:
    """The user's signing key, outside every project: ``<config home>/secpipe/keys/signing.pem``
    (folder 0700, file 0600, generated on first use)."""
    return config_home(environ) / "secpipe" / "keys" / "signing.pem"


def legacy_key_path(project_root: Path, state_dir: str | Path = ".secpipe") -> Path:
    """Where older versions of secpipe kept the default key: inside the project's state folder."""
    return project_root / state_dir / "keys" / "signing.pem"


def legacy_project_key(project_root: Path, state_dir: str | Path = ".secpipe") -> Path | None:
    """The private key an older secpipe generated inside the project, if one is still there.

    secpipe no longer signs with it (a key in the project tree ends up in git), and never moves
    or deletes it: the user decides (docs/provenance.md, "A key left in the project")."""
    path = legacy_key_path(project_root, state_dir)
    return path if path.is_file() and not path.is_symlink() else None


def legacy_key_warning(project_root: Path, state_dir: str | Path = ".secpipe") -> str | None:
    """A one-line warning about :func:`legacy_project_key`, or None when there is none."""
    path = legacy_project_key(project_root, state_dir)
    if path is None:
        return None
    return (f"a private signing key from an older secpipe is inside the project ({path}); "
            f"secpipe now signs with {default_key_path()} — move that file out of the project "
            f"and verify the runs it signed with its public key (public_key: {path}.pub)")


def _vault_config(options: KeyOptions, resolver: Secrets) -> VaultConfig:
    env = VaultConfig.from_env(os.environ)
    token = resolver.resolve_optional(options.vault_token, "vault_token") or env.token
    addr = resolver.resolve_optional(options.vault_addr, "vault_addr") or env.addr
    return VaultConfig(addr=addr, token=token, namespace=env.namespace)


def _aws_config(options: KeyOptions, resolver: Secrets) -> AwsConfig:
    env = AwsConfig.from_env(os.environ)
    return AwsConfig(
        region=resolver.resolve_optional(options.aws_region, "aws_region") or env.region,
        endpoint_url=resolver.resolve_optional(options.aws_endpoint, "aws_endpoint")
        or env.endpoint_url)


def open_signing_key(ref: str | None, project_root: Path, resolver: Secrets,
                     options: KeyOptions | None = None, state_dir: str | Path = ".secpipe",
                     generate: bool = True) -> SigningKey:
    """Open the key a reference names (None: the user's default key file,
    :func:`default_key_path`; ``state_dir`` only locates a key an older secpipe left there)."""
    options = options or KeyOptions()
    if ref is None or not ref.strip():
        password = resolver.resolve_optional(options.key_password, "key_password")
        return LocalKeyFile(default_key_path(), password, generate)
    ref = resolver.resolve(ref.strip(), "key")
    if is_keyless(ref):
        raise ConfigError("key sigstore is keyless: it has no key to open (sign with the "
                          "keyless signer, verify with identity and oidc_issuer)")
    if ref.startswith("vault-transit:"):
        mount, _, name = ref.removeprefix("vault-transit:").strip("/").rpartition("/")
        if not mount or not name:
            raise ConfigError(f"key {ref!r}: write it as vault-transit:MOUNT/NAME")
        return TransitKey(_vault_config(options, resolver), mount, name)
    if ref.startswith("awskms:"):
        key = ref.removeprefix("awskms:").lstrip("/")
        if not key:
            raise ConfigError(f"key {ref!r}: write it as awskms:KEY-ID or awskms:alias/NAME")
        return KmsKey(_aws_config(options, resolver), key)
    path = Path(os.path.expanduser(ref.removeprefix("file:")))
    if not path.is_absolute():
        path = project_root / path
    password = resolver.resolve_optional(options.key_password, "key_password")
    return LocalKeyFile(path, password, generate)


def trusted_public_key(ref: str | None, public_key: str | None, project_root: Path,
                       resolver: Secrets, options: KeyOptions | None = None,
                       state_dir: str | Path = ".secpipe") -> bytes | SigstoreIdentity:
    """The PEM public key a verifier trusts: ``public_key`` (a file) when given, else the public
    half of the key reference (a local key's ``.pub`` file, Vault's or KMS's public key); for
    ``key: sigstore`` the expected signer identity (``identity`` and ``oidc_issuer`` required)."""
    options = options or KeyOptions()
    if ref is not None and is_keyless(resolver.resolve(ref.strip(), "key")):
        return keyless_identity(public_key, resolver, options)
    if options.identity or options.oidc_issuer:
        raise ConfigError("identity and oidc_issuer verify keyless signatures: set key: sigstore "
                          f"(key is {ref or 'the default key file'!r})")
    if public_key:
        path = Path(os.path.expanduser(resolver.resolve(public_key, "public_key")))
        path = path if path.is_absolute() else project_root / path
        return _read_public(path)
    key = open_signing_key(ref, project_root, resolver, options, state_dir, generate=False)
    if isinstance(key, LocalKeyFile):
        hint = None
        legacy = legacy_project_key(project_root, state_dir) if not (ref and ref.strip()) else None
        if legacy is not None:  # runs signed by an older secpipe: their key is still there
            hint = ("runs signed before the default key moved out of the project verify with "
                    f"public_key {legacy}.pub (--public-key)")
        return _read_public(key.public_path, hint)
    return key.public_pem()


def _read_public(path: Path, hint: str | None = None) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        if path.stat().st_size > MAX_KEY_BYTES:
            raise ConfigError(f"public key {path} is too large")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"public key {path} does not exist",
                          hint=hint or "sign first, or name the trusted key with public_key",
                          ) from None
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise ConfigError(f"public key {path} is not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ConfigError(f"public key {path} is not an EC key")
    return _public_pem(key)


def keyless_identity(public_key: str | None, resolver: Secrets,
                     options: KeyOptions) -> SigstoreIdentity:
    """The identity a keyless signature must carry; both parts are required."""
    if public_key:
        raise ConfigError("key sigstore: public_key does not apply (keyless signatures are "
                          "verified by identity and oidc_issuer)")
    identity = resolver.resolve_optional(options.identity, "identity")
    issuer = resolver.resolve_optional(options.oidc_issuer, "oidc_issuer")
    missing = [name for name, value in (("identity", identity), ("oidc_issuer", issuer))
               if not value]
    if missing or identity is None or issuer is None:
        raise ConfigError("key sigstore: verifying a keyless signature needs "
                          f"{' and '.join(missing)} (the signer's OIDC identity and its issuer)",
                          hint="e.g. identity: you@example.com, "
                          "oidc_issuer: https://accounts.google.com")
    return SigstoreIdentity(identity, issuer, options.use_staging, options.sigstore_timeout)
