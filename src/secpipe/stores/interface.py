"""The artifact-store interface and the key rules every backend shares."""

from __future__ import annotations

import abc
import builtins
import re
from dataclasses import dataclass
from pathlib import Path

from secpipe.core.errors import StoreError

_SEGMENT = re.compile(r"^[A-Za-z0-9._@+=,-]+$")
MAX_KEY_LENGTH = 1024


@dataclass(frozen=True)
class StoredObject:
    """One object in a store."""

    key: str
    """Its key, relative to the store's root (``mlsecops/<run>/files/model/model.skops``)."""
    size: int
    """Size in bytes."""
    digest: str | None = None
    """``sha256:<hex>`` when known (computed on put and get; listing does not hash)."""


def check_key(key: str) -> str:
    """``key`` if it is a safe relative key (no ``..``, no empty or odd segment); else an error."""
    if not key or len(key) > MAX_KEY_LENGTH or key.startswith("/") or key.endswith("/"):
        raise StoreError(f"invalid store key {key!r}")
    for segment in key.split("/"):
        if segment in (".", "..") or not _SEGMENT.match(segment):
            raise StoreError(f"invalid store key {key!r} (segment {segment!r})")
    return key


def safe_name(name: str) -> str:
    """Turn an artifact name (``data:data/requests.csv``) into a safe relative key."""
    parts = []
    for segment in name.replace("\\", "/").split("/"):
        cleaned = re.sub(r"[^A-Za-z0-9._@+=,-]", "_", segment).strip()
        if cleaned in ("", ".", ".."):
            continue
        parts.append(cleaned)
    return "/".join(parts) or "artifact"


def join_key(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


class ArtifactStore(abc.ABC):
    """A place that holds artifacts by key. Writes of one object are atomic for readers."""

    uri: str
    """Where it is, for messages (never holds credentials)."""

    @abc.abstractmethod
    def put_file(self, key: str, path: Path) -> StoredObject:
        """Upload one local file under ``key`` (replacing an existing object)."""

    @abc.abstractmethod
    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        """Store ``data`` under ``key``."""

    @abc.abstractmethod
    def get_file(self, key: str, dest: Path) -> StoredObject:
        """Download ``key`` to ``dest`` (written via a temporary file, then renamed)."""

    @abc.abstractmethod
    def get_bytes(self, key: str, max_bytes: int) -> bytes:
        """Read a small object; more than ``max_bytes`` is a StoreError."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> list[StoredObject]:
        """Objects whose key starts with ``prefix``, sorted by key."""

    @abc.abstractmethod
    def stat(self, key: str) -> StoredObject | None:
        """The object's size, or None when it does not exist."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove an object (no error when it does not exist)."""

    def put_dir(self, prefix: str, folder: Path) -> builtins.list[StoredObject]:
        """Upload every regular file under ``folder`` below ``prefix`` (symbolic links refused)."""
        stored = []
        for path in sorted(folder.rglob("*")):
            if path.is_symlink():
                raise StoreError(f"{path} is a symbolic link; refusing to upload it")
            if path.is_file():
                rel = path.relative_to(folder).as_posix()
                stored.append(self.put_file(join_key(prefix, rel), path))
        return stored
