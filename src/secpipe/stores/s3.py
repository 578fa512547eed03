"""An S3 bucket (AWS or any S3-compatible server) as an artifact store, through ``boto3``.

Uploads of large files are multipart and parallel (boto3's transfer manager); each object appears
whole or not at all, which is S3's own guarantee. Errors name the bucket and key and say whether
the server is unreachable, denied access or lacks the bucket — never a credential.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from secpipe.core.errors import ConfigError, StoreError
from secpipe.stores.interface import ArtifactStore, StoredObject, check_key, join_key

_CHUNK = 8 << 20
CONNECT_TIMEOUT = 5.0
"""Seconds to open a connection to the S3 endpoint."""
READ_TIMEOUT = 10.0
"""Seconds a socket read may wait (between bytes, so large objects are not cut off)."""
ATTEMPTS = 2
"""Attempts per call, first included."""
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled",
           "InvalidToken", "ExpiredToken", "403"}
_MISSING = {"NoSuchKey", "404", "NotFound"}


@dataclass(frozen=True)
class S3Options:
    """Connection settings (credentials already resolved; never logged)."""

    endpoint_url: str | None = None
    """An S3-compatible endpoint such as ``http://127.0.0.1:8333``; None for AWS."""
    region: str | None = None
    """Region (default ``AWS_REGION`` or ``us-east-1``)."""
    access_key: str | None = None
    """Access key id (default: boto3's credential chain)."""
    secret_key: str | None = None
    """Secret access key."""

    def __repr__(self) -> str:
        return f"S3Options(endpoint_url={self.endpoint_url!r}, region={self.region!r})"


class S3Store(ArtifactStore):
    """Objects are ``s3://bucket/prefix/<key>``."""

    def __init__(self, bucket: str, prefix: str, options: S3Options) -> None:
        try:
            import boto3
            from boto3.s3.transfer import TransferConfig
            from botocore.config import Config
        except ImportError:
            raise ConfigError("S3 stores need the 'boto3' package",
                              hint="pip install 'secpipe[provenance]'") from None
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.endpoint = options.endpoint_url or "AWS"
        region = options.region or os.environ.get("AWS_REGION") or os.environ.get(
            "AWS_DEFAULT_REGION") or "us-east-1"
        # a session of its own: boto3's default session caches the credentials it first found,
        # so a long-lived process would keep using stale ones
        self._client: Any = boto3.session.Session().client(
            "s3", endpoint_url=options.endpoint_url, region_name=region,
            aws_access_key_id=options.access_key, aws_secret_access_key=options.secret_key,
            # seconds, not minutes: a server that accepts and never answers fails one call in
            # at most ATTEMPTS x (CONNECT_TIMEOUT + READ_TIMEOUT)
            config=Config(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
                          retries={"total_max_attempts": ATTEMPTS, "mode": "standard"},
                          s3={"addressing_style": "path"}),
        )
        self._transfer = TransferConfig(multipart_threshold=_CHUNK, multipart_chunksize=_CHUNK,
                                        max_concurrency=4, num_download_attempts=ATTEMPTS)

    def _key(self, key: str) -> str:
        return join_key(self.prefix, check_key(key))

    def _error(self, what: str, exc: Exception) -> StoreError:
        exc = _root_cause(exc)
        response = getattr(exc, "response", None)
        where = f"store {self.uri} ({self.endpoint})"
        if isinstance(response, dict):
            code = str(response.get("Error", {}).get("Code", "")) or type(exc).__name__
            if code in _DENIED:
                return StoreError(f"{where}: {what}: access denied ({code})",
                                  hint="check the store's access_key / secret_key")
            if code == "NoSuchBucket":
                return StoreError(f"{where}: bucket {self.bucket} does not exist")
            return StoreError(f"{where}: {what}: {code}")
        name = type(exc).__name__
        if name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError",
                    "ReadTimeoutError"):
            return StoreError(f"{where} is unreachable ({name}): {what}")
        if name in ("NoCredentialsError", "PartialCredentialsError"):
            return StoreError(f"{where}: no credentials", hint="set access_key and secret_key")
        if isinstance(exc, OSError):
            return StoreError(f"{where}: {what}: {exc.strerror or exc}")
        return StoreError(f"{where}: {what}: {name}")

    def put_file(self, key: str, path: Path) -> StoredObject:
        digest = hashlib.sha256()
        size = 0
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
            self._client.upload_file(str(path), self.bucket, self._key(key),
                                     Config=self._transfer)
        except Exception as exc:
            raise self._error(f"cannot upload {key}", exc) from None
        return StoredObject(key, size, "sha256:" + digest.hexdigest())

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        try:
            self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except Exception as exc:
            raise self._error(f"cannot upload {key}", exc) from None
        return StoredObject(key, len(data), "sha256:" + hashlib.sha256(data).hexdigest())

    def get_file(self, key: str, dest: Path) -> StoredObject:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        os.close(fd)
        try:
            self._client.download_file(self.bucket, self._key(key), tmp, Config=self._transfer)
            digest = hashlib.sha256()
            size = 0
            with open(tmp, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
            os.replace(tmp, dest)
        except Exception as exc:
            Path(tmp).unlink(missing_ok=True)
            if self._code(exc) in _MISSING:
                raise StoreError(f"store {self.uri}: {key} does not exist") from None
            raise self._error(f"cannot download {key}", exc) from None
        return StoredObject(key, size, "sha256:" + digest.hexdigest())

    def get_bytes(self, key: str, max_bytes: int) -> bytes:
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=self._key(key))
            if int(answer.get("ContentLength", 0)) > max_bytes:
                raise StoreError(f"store {self.uri}: {key} is larger than {max_bytes} bytes")
            data: bytes = answer["Body"].read(max_bytes + 1)
        except StoreError:
            raise
        except Exception as exc:
            if self._code(exc) in _MISSING:
                raise StoreError(f"store {self.uri}: {key} does not exist") from None
            raise self._error(f"cannot read {key}", exc) from None
        if len(data) > max_bytes:
            raise StoreError(f"store {self.uri}: {key} is larger than {max_bytes} bytes")
        return data

    def list(self, prefix: str = "") -> list[StoredObject]:
        full = join_key(self.prefix, prefix)
        if prefix.endswith("/") and full:
            full += "/"
        base = len(self.prefix) + 1 if self.prefix else 0
        found = []
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=full)
            for page in pages:
                for item in page.get("Contents", []):
                    found.append(StoredObject(str(item["Key"])[base:], int(item["Size"])))
        except Exception as exc:
            raise self._error("cannot list objects", exc) from None
        return sorted(found, key=lambda o: o.key)

    def stat(self, key: str) -> StoredObject | None:
        try:
            answer = self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            if self._code(exc) in _MISSING:
                return None
            raise self._error(f"cannot stat {key}", exc) from None
        return StoredObject(key, int(answer.get("ContentLength", 0)))

    def delete(self, key: str) -> None:
        try:
            self._client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            raise self._error(f"cannot delete {key}", exc) from None

    @staticmethod
    def _code(exc: Exception) -> str:
        response = getattr(_root_cause(exc), "response", None)
        if isinstance(response, dict):
            return str(response.get("Error", {}).get("Code", ""))
        return ""


def _root_cause(exc: Exception) -> Exception:
    """boto3's transfer manager wraps the client error (``S3UploadFailedError``): unwrap it."""
    if type(exc).__name__ in ("S3UploadFailedError", "S3TransferFailedError"):
        inner = exc.__cause__ or exc.__context__
        if isinstance(inner, Exception):
            return inner
    return exc
