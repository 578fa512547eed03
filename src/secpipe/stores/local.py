"""A local folder as an artifact store (the embedded default: ``.secpipe/store``)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from secpipe.core.errors import StoreError
from secpipe.stores.interface import ArtifactStore, StoredObject, check_key

_CHUNK = 1 << 20


def copy_hashing(src: Path, dest: Path) -> tuple[str, int]:
    """Copy ``src`` to ``dest`` atomically, hashing while copying; returns (sha256 hex, size)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    digest = hashlib.sha256()
    size = 0
    try:
        with src.open("rb") as fin, os.fdopen(fd, "wb") as fout:
            while chunk := fin.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                fout.write(chunk)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest.hexdigest(), size


class LocalStore(ArtifactStore):
    """Objects are files below ``root``; each is written to a temporary name, then renamed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.uri = root.as_uri() if root.is_absolute() else str(root)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _io(self, what: str, exc: OSError) -> StoreError:
        return StoreError(f"store {self.uri}: {what}: {exc.strerror or exc}")

    def put_file(self, key: str, path: Path) -> StoredObject:
        try:
            digest, size = copy_hashing(path, self._path(key))
        except OSError as exc:
            raise self._io(f"cannot write {key}", exc) from None
        return StoredObject(key, size, f"sha256:{digest}")

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        dest = self._path(key)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, dest)
        except OSError as exc:
            raise self._io(f"cannot write {key}", exc) from None
        return StoredObject(key, len(data), "sha256:" + hashlib.sha256(data).hexdigest())

    def get_file(self, key: str, dest: Path) -> StoredObject:
        src = self._path(key)
        if not src.is_file():
            raise StoreError(f"store {self.uri}: {key} does not exist")
        try:
            digest, size = copy_hashing(src, dest)
        except OSError as exc:
            raise self._io(f"cannot read {key}", exc) from None
        return StoredObject(key, size, f"sha256:{digest}")

    def get_bytes(self, key: str, max_bytes: int) -> bytes:
        src = self._path(key)
        try:
            if src.stat().st_size > max_bytes:
                raise StoreError(f"store {self.uri}: {key} is larger than {max_bytes} bytes")
            return src.read_bytes()
        except FileNotFoundError:
            raise StoreError(f"store {self.uri}: {key} does not exist") from None
        except OSError as exc:
            raise self._io(f"cannot read {key}", exc) from None

    def list(self, prefix: str = "") -> list[StoredObject]:
        if not self.root.is_dir():
            return []
        found = []
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if name.startswith("."):
                    continue  # temporary files of writes in progress
                path = Path(dirpath) / name
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix) and not path.is_symlink():
                    found.append(StoredObject(key, path.stat().st_size))
        return sorted(found, key=lambda o: o.key)

    def stat(self, key: str) -> StoredObject | None:
        path = self._path(key)
        return StoredObject(key, path.stat().st_size) if path.is_file() else None

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise self._io(f"cannot delete {key}", exc) from None
