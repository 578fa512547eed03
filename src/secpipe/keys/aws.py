"""AWS Secrets Manager secrets and KMS signing keys (through ``boto3``).

Credentials and region come from the standard AWS variables and files; ``AWS_ENDPOINT_URL`` points
the clients at an S3/KMS-compatible endpoint. The test suite runs these against moto's server, an
emulator of AWS — not AWS itself. KMS signs a SHA-256 digest; the private key never leaves KMS.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from secpipe.core.errors import ConfigError
from secpipe.keys.providers import pick_key, split_key

TIMEOUT = 10
"""Seconds a KMS or Secrets Manager answer may take (two attempts at most)."""
RAW_LIMIT = 4096


@dataclass(frozen=True)
class AwsConfig:
    """Which AWS endpoint and region to talk to (credentials: boto3's usual chain)."""

    region: str = "us-east-1"
    """AWS region."""
    endpoint_url: str | None = None
    """A non-AWS endpoint (``AWS_ENDPOINT_URL``), e.g. an emulator in tests."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AwsConfig:
        return cls(region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
                   endpoint_url=env.get("AWS_ENDPOINT_URL") or None)


def client(service: str, config: AwsConfig) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise ConfigError("AWS support needs the 'boto3' package",
                          hint="pip install 'secpipe[provenance]'") from None
    return boto3.client(service, region_name=config.region, endpoint_url=config.endpoint_url,
                        config=Config(connect_timeout=5, read_timeout=TIMEOUT,
                                      retries={"total_max_attempts": 2, "mode": "standard"}))


def describe_error(exc: Exception, where: str) -> str:
    """One line for a failed AWS call (error code, never request data)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", "")) or type(exc).__name__
        if code in ("AccessDenied", "AccessDeniedException", "UnrecognizedClientException",
                    "InvalidSignatureException", "InvalidClientTokenId",
                    "SignatureDoesNotMatch", "InvalidAccessKeyId"):
            return f"{where} denied access ({code}: check the credentials)"
        if code in ("ResourceNotFoundException", "NotFoundException", "NoSuchKey", "404"):
            return f"{where}: not found ({code})"
        return f"{where}: {code}"
    name = type(exc).__name__
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"):
        return f"{where} is unreachable ({name})"
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return f"{where}: no AWS credentials ({name})"
    return f"{where}: {name}"


def secrets_manager_secret(config: AwsConfig, ref: str) -> str:
    """``name#key``: a field of a JSON secret, or the whole secret string without ``#key``."""
    name, key = split_key(ref, "${aws-sm:name#key}")
    try:
        answer = client("secretsmanager", config).get_secret_value(SecretId=name)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(describe_error(exc, f"AWS secret {name}")) from None
    if "SecretString" not in answer:
        raise ConfigError(f"AWS secret {name} is binary; secpipe reads string secrets")
    return pick_key(str(answer["SecretString"]), key, f"AWS secret {name}")


class KmsKey:
    """An asymmetric ``ECC_NIST_P256`` KMS key used for ``ECDSA_SHA_256`` signatures."""

    def __init__(self, config: AwsConfig, key_id: str) -> None:
        self.key_id = key_id
        self.label = f"awskms:{key_id}"
        self._client = client("kms", config)
        self._public: bytes | None = None

    def public_pem(self) -> bytes:
        if self._public is None:
            try:
                answer = self._client.get_public_key(KeyId=self.key_id)
            except Exception as exc:
                raise ConfigError(describe_error(exc, self.label)) from None
            spec = answer.get("KeySpec") or answer.get("CustomerMasterKeySpec")
            if spec != "ECC_NIST_P256":
                raise ConfigError(f"{self.label}: key spec is {spec!r}; secpipe signs with "
                                  "ECC_NIST_P256 keys")
            from cryptography.hazmat.primitives import serialization

            public = serialization.load_der_public_key(answer["PublicKey"])
            self._public = public.public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        return self._public

    def sign(self, data: bytes) -> bytes:
        """DER ECDSA signature over SHA-256(data).

        KMS takes at most 4096 bytes of raw message; larger payloads are sent as their SHA-256
        digest (``MessageType=DIGEST``), which yields the same signature. (moto's emulator does
        not implement DIGEST, so the tests there stay under the raw limit.)
        """
        if len(data) <= RAW_LIMIT:
            message, kind = data, "RAW"
        else:
            message, kind = hashlib.sha256(data).digest(), "DIGEST"
        try:
            answer = self._client.sign(KeyId=self.key_id, Message=message, MessageType=kind,
                                       SigningAlgorithm="ECDSA_SHA_256")
        except Exception as exc:
            raise ConfigError(describe_error(exc, self.label)) from None
        return bytes(answer["Signature"])
