"""Vault/OpenBao and AWS (moto's emulator) as secret providers and signing keys, for real."""

from __future__ import annotations

import json
from pathlib import Path

import hvac
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from secpipe.core.errors import ConfigError
from secpipe.keys.aws import AwsConfig, client
from secpipe.keys.refs import SecretResolver
from secpipe.keys.signers import KeyOptions, open_signing_key
from servers import VAULT_TOKEN, Server

pytestmark = pytest.mark.server


def _verify(pem: bytes, signature: bytes, data: bytes) -> None:
    public = serialization.load_pem_public_key(pem)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, data, ec.ECDSA(hashes.SHA256()))


def test_vault_kv_reference_resolves(vault_env: Server, tmp_path: Path) -> None:
    vault = hvac.Client(url=vault_env.url, token=VAULT_TOKEN)
    vault.secrets.kv.v2.create_or_update_secret(
        path="ci/s3", secret={"secret_key": "kv-value-123", "other": "x"}, mount_point="secret")
    resolver = SecretResolver(tmp_path)
    assert resolver.resolve("${vault:secret/ci/s3#secret_key}") == "kv-value-123"
    with pytest.raises(ConfigError, match="has no key 'nope'"):
        resolver.resolve("${vault:secret/ci/s3#nope}")
    with pytest.raises(ConfigError, match="holds 2 keys"):
        resolver.resolve("${vault:secret/ci/s3}")
    with pytest.raises(ConfigError, match="not found in Vault"):
        resolver.resolve("${vault:secret/ci/missing#k}")


def test_vault_bad_token_and_vault_down_are_clear_errors(vault_server: Server, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_ADDR", vault_server.url)
    monkeypatch.setenv("VAULT_TOKEN", "not-the-token")
    with pytest.raises(ConfigError, match="denied access") as err:
        SecretResolver(tmp_path).resolve("${vault:secret/ci/s3#secret_key}")
    assert "not-the-token" not in err.value.message
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="unreachable"):
        SecretResolver(tmp_path).resolve("${vault:secret/ci/s3#secret_key}")


def test_vault_transit_key_signs_without_exporting_the_private_key(vault_env: Server,
                                                                   tmp_path: Path) -> None:
    vault = hvac.Client(url=vault_env.url, token=VAULT_TOKEN)
    vault.secrets.transit.create_key(name="signer", key_type="ecdsa-p256")
    key = open_signing_key("vault-transit:transit/signer", tmp_path, SecretResolver(tmp_path))
    data = b"DSSEv1 payload" * 1000
    _verify(key.public_pem(), key.sign(data), data)
    exported = vault.secrets.transit.read_key(name="signer")["data"]
    assert exported["exportable"] is False


def test_vault_transit_token_from_a_reference(vault_server: Server, tmp_path: Path) -> None:
    (tmp_path / "token").write_text(VAULT_TOKEN + "\n")
    key = open_signing_key("vault-transit:transit/signer2", tmp_path, SecretResolver(tmp_path),
                           KeyOptions(vault_addr=vault_server.url, vault_token="${file:token}"))
    with pytest.raises(ConfigError, match="vault-transit:transit/signer2: read key"):
        key.public_pem()  # the key does not exist yet: a clear error naming it
    hvac.Client(url=vault_server.url, token=VAULT_TOKEN).secrets.transit.create_key(
        name="signer2", key_type="ecdsa-p256")
    _verify(key.public_pem(), key.sign(b"x"), b"x")


def test_vault_transit_rejects_a_non_ecdsa_key(vault_env: Server, tmp_path: Path) -> None:
    hvac.Client(url=vault_env.url, token=VAULT_TOKEN).secrets.transit.create_key(
        name="rsa", key_type="rsa-2048")
    key = open_signing_key("vault-transit:transit/rsa", tmp_path, SecretResolver(tmp_path))
    with pytest.raises(ConfigError, match="ecdsa-p256"):
        key.public_pem()


def test_aws_secrets_manager_reference_resolves(aws_env: Server, tmp_path: Path) -> None:
    sm = client("secretsmanager", AwsConfig(endpoint_url=aws_env.url))
    sm.create_secret(Name="ci/registry", SecretString=json.dumps({"password": "sm-pass-42"}))
    sm.create_secret(Name="ci/plain", SecretString="plain-secret-value")
    resolver = SecretResolver(tmp_path)
    assert resolver.resolve("${aws-sm:ci/registry#password}") == "sm-pass-42"
    assert resolver.resolve("${aws-sm:ci/plain}") == "plain-secret-value"
    with pytest.raises(ConfigError, match="not found"):
        resolver.resolve("${aws-sm:ci/missing#password}")


def test_aws_kms_key_signs_and_its_public_key_verifies(aws_env: Server, tmp_path: Path) -> None:
    kms = client("kms", AwsConfig(endpoint_url=aws_env.url))
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/secpipe-test", TargetKeyId=key_id)
    key = open_signing_key("awskms:alias/secpipe-test", tmp_path, SecretResolver(tmp_path))
    _verify(key.public_pem(), key.sign(b"model payload"), b"model payload")


def test_aws_endpoint_down_is_a_clear_error(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="unreachable"):
        SecretResolver(tmp_path).resolve("${aws-sm:ci/registry#password}")
