"""Image signatures made by remote keys (OpenBao transit, moto's AWS KMS) verify like file keys."""

from __future__ import annotations

from pathlib import Path

import hvac
import pytest
from image_builders import build_oci_layout

from secpipe.images.registry import push_image
from secpipe.images.signing import sign_and_store, verify_image
from secpipe.keys.aws import AwsConfig, client
from secpipe.keys.refs import SecretResolver
from secpipe.keys.signers import open_signing_key
from servers import VAULT_TOKEN, Server, aws_env, aws_server, oci_server, vault_env, vault_server

__all__ = ["aws_env", "aws_server", "oci_server", "vault_env", "vault_server"]
pytestmark = pytest.mark.server


def _signed_by(ref: str, server: Server, tmp_path: Path, repo: str) -> None:
    layout = tmp_path / "layout"
    build_oci_layout(layout, [{"srv/app.py": f"# {repo}\n".encode()}])
    digest = push_image(layout, None, server.url, repo, "v1", insecure=True).digest
    key = open_signing_key(ref, tmp_path, SecretResolver(tmp_path))
    sign_and_store(server.url, repo, digest, key, insecure=True, verdicts={"gate": "passed"})
    result = verify_image(server.url, repo, "v1", key.public_pem(), insecure=True,
                          require_attestation=True)
    assert result.passed, result.problems


def test_vault_transit_key_signs_an_image(vault_env: Server, oci_server: Server,
                                          tmp_path: Path) -> None:
    hvac.Client(url=vault_env.url, token=VAULT_TOKEN).secrets.transit.create_key(
        name="image-signer", key_type="ecdsa-p256")
    _signed_by("vault-transit:transit/image-signer", oci_server, tmp_path, "w4/vault-signed")


def test_aws_kms_key_signs_an_image(aws_env: Server, oci_server: Server, tmp_path: Path) -> None:
    kms = client("kms", AwsConfig(endpoint_url=aws_env.url))
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/secpipe-image", TargetKeyId=key_id)
    _signed_by("awskms:alias/secpipe-image", oci_server, tmp_path, "w4/kms-signed")
