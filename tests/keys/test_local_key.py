"""Local signing key files: generated on first use with 0600, risky permissions refused."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from secpipe.core.errors import ConfigError
from secpipe.keys.refs import SecretResolver
from secpipe.keys.signers import (
    KeyOptions,
    LocalKeyFile,
    default_key_path,
    open_signing_key,
    trusted_public_key,
)


def test_key_is_generated_on_first_use_with_owner_only_permissions(tmp_path: Path) -> None:
    key = open_signing_key(None, tmp_path, SecretResolver(tmp_path))
    path = default_key_path()
    assert path == Path(os.environ["XDG_CONFIG_HOME"]) / "secpipe" / "keys" / "signing.pem"
    assert not path.exists()  # nothing happens until the key is used
    signature = key.sign(b"payload")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    assert not (tmp_path / ".secpipe").exists()  # nothing of the key inside the project
    public = serialization.load_pem_public_key(key.public_pem())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, b"payload", ec.ECDSA(hashes.SHA256()))
    assert (path.parent / "signing.pem.pub").read_bytes() == key.public_pem()


def test_group_readable_key_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    key = LocalKeyFile(tmp_path / "k.pem")
    key.public_pem()
    os.chmod(tmp_path / "k.pem", 0o640)
    with pytest.raises(ConfigError) as err:
        LocalKeyFile(tmp_path / "k.pem").sign(b"x")
    assert "readable by group or others" in err.value.message
    assert err.value.hint == f"chmod 600 {tmp_path / 'k.pem'}"


def test_encrypted_key_needs_its_password(tmp_path: Path) -> None:
    path = tmp_path / "enc.pem"
    LocalKeyFile(path, password="correct horse").public_pem()
    assert b"ENCRYPTED" in path.read_bytes()
    with pytest.raises(ConfigError, match="wrong or missing password"):
        LocalKeyFile(path, password="wrong").sign(b"x")
    resolver = SecretResolver(tmp_path, environ={"KEYPW": "correct horse"})
    key = open_signing_key(f"file:{path}", tmp_path, resolver,
                           KeyOptions(key_password="${env:KEYPW}"))
    assert key.sign(b"x")


def test_non_p256_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ed.pem"
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    path.write_bytes(pem)
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="not an EC P-256 key"):
        LocalKeyFile(path).sign(b"x")


def test_verifier_without_a_public_key_gets_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        trusted_public_key(None, None, tmp_path, SecretResolver(tmp_path))
    with pytest.raises(ConfigError, match="not a PEM public key"):
        (tmp_path / "bad.pub").write_text("nope")
        trusted_public_key(None, "bad.pub", tmp_path, SecretResolver(tmp_path))


def test_malformed_remote_key_references_are_config_errors(tmp_path: Path) -> None:
    resolver = SecretResolver(tmp_path, environ={})
    with pytest.raises(ConfigError, match="vault-transit:MOUNT/NAME"):
        open_signing_key("vault-transit:onlyname", tmp_path, resolver)
    with pytest.raises(ConfigError, match="awskms:KEY-ID"):
        open_signing_key("awskms:", tmp_path, resolver)


def test_key_reference_itself_may_be_a_secret_reference(tmp_path: Path) -> None:
    resolver = SecretResolver(tmp_path, environ={"SIGNING_KEY": f"file:{tmp_path / 'ci.pem'}"})
    key = open_signing_key("${env:SIGNING_KEY}", tmp_path, resolver)
    assert key.sign(b"x") and (tmp_path / "ci.pem").is_file()


def test_default_key_lives_in_the_users_config_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert default_key_path({"HOME": str(home)}) == (
        home / ".config" / "secpipe" / "keys" / "signing.pem")
    # XDG: a relative XDG_CONFIG_HOME is ignored
    assert default_key_path({"HOME": str(home), "XDG_CONFIG_HOME": "rel"}).is_relative_to(home)
    xdg = tmp_path / "xdg"
    assert default_key_path({"HOME": str(home), "XDG_CONFIG_HOME": str(xdg)}) == (
        xdg / "secpipe" / "keys" / "signing.pem")


def test_explicit_key_file_still_works_inside_the_project(tmp_path: Path) -> None:
    key = open_signing_key("file:ci/signing.pem", tmp_path, SecretResolver(tmp_path))
    assert key.sign(b"x") and (tmp_path / "ci" / "signing.pem").is_file()
    assert stat.S_IMODE((tmp_path / "ci").stat().st_mode) == 0o700
    assert not default_key_path().exists()
