"""Artifacts: files a step reads or writes, identified by SHA-256 digest and typed by content."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Artifact:
    """A file a step produced or consumed."""

    name: str
    """Logical name (e.g. ``model``, ``report.sarif``)."""
    path: str
    """Where it lives (local path or store URI)."""
    digest: str
    """``sha256:<hex>`` of its bytes."""
    size: int
    """Size in bytes."""
    media_type: str = "application/octet-stream"
    """Content type, from the bytes, not the name."""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Artifact:
        return cls(**data)

    @classmethod
    def from_file(
        cls, name: str, path: Path, media_type: str = "application/octet-stream"
    ) -> Artifact:
        digest, size = sha256_file(path)
        return cls(name=name, path=str(path), digest=f"sha256:{digest}", size=size,
                   media_type=media_type)


def sha256_file(path: Path) -> tuple[str, int]:
    """Return (hex digest, size) of a file, read in chunks (with OpenSSL's SHA-256, imported
    here: a scan that hashes no file does not load it)."""
    import hashlib

    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size
