"""Test support for the image inventory: a dict-backed filesystem view and builders of rpm data.

(Collected by pytest as a module without tests; imported by test_inventory*.py and test_sbom*.py.)
"""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path


class DictFs:
    """An in-memory FsView: ``files`` maps absolute paths to bytes, ``links`` path -> target."""

    def __init__(self, files: dict[str, bytes], links: dict[str, str] | None = None,
                 owners: dict[str, tuple[int, int]] | None = None) -> None:
        self.files = dict(files)
        self.links = dict(links or {})
        self.owners = dict(owners or {})
        self.reads: list[str] = []

    def _resolve(self, path: str) -> str:
        for _ in range(40):
            for link, target in self.links.items():
                if path == link or path.startswith(link + "/"):
                    path = target + path[len(link):]
                    break
            else:
                return path
        return path

    def read(self, path: str, limit: int) -> bytes | None:
        self.reads.append(path)
        data = self.files.get(self._resolve(path))
        return None if data is None else data[:limit]

    def listdir(self, path: str) -> list[str]:
        if path in self.links:
            return []
        prefix = path.rstrip("/") + "/"
        names = {p[len(prefix):].split("/", 1)[0]
                 for p in [*self.files, *self.links] if p.startswith(prefix)}
        return sorted(names)

    def exists(self, path: str) -> bool:
        return path in self.links or path in self.files or bool(self.listdir(path))

    def owner(self, path: str) -> tuple[int, int] | None:
        return self.owners.get(path, (0, 0)) if self.exists(path) else None


RpmValue = str | int | list[str] | list[int]


def rpm_header(tags: dict[int, RpmValue]) -> bytes:
    """An rpm header blob (as rpmdb.sqlite stores it): str as STRING, int (or list of int) as
    INT32, list of str as STRING_ARRAY."""
    index = b""
    data = b""
    for tag, value in sorted(tags.items()):
        if isinstance(value, int) or (isinstance(value, list) and value
                                      and isinstance(value[0], int)):
            ints = [value] if isinstance(value, int) else value
            data += b"\0" * (-len(data) % 4)
            index += struct.pack(">iiii", tag, 4, len(data), len(ints))
            data += b"".join(struct.pack(">i", v) for v in ints)
        elif isinstance(value, list):
            index += struct.pack(">iiii", tag, 8, len(data), len(value))
            data += b"".join(str(v).encode() + b"\0" for v in value)
        else:
            index += struct.pack(">iiii", tag, 6, len(data), 1)
            data += value.encode() + b"\0"
    return struct.pack(">II", len(tags), len(data)) + index + data


def rpmdb_sqlite(tmp: Path, blobs: list[bytes]) -> bytes:
    """The bytes of an rpmdb.sqlite with rpm's Packages table holding ``blobs``."""
    path = tmp / "rpmdb-built.sqlite"
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, "
                 "blob BLOB NOT NULL)")
    conn.executemany("INSERT INTO Packages (blob) VALUES (?)", [(b,) for b in blobs])
    conn.commit()
    conn.close()
    return path.read_bytes()


def rpm_package(name: str, version: str, release: str, *, epoch: int | None = None,
                arch: str = "x86_64", licence: str = "MIT", srpm: str | None = None) -> bytes:
    """A header blob of one package."""
    tags: dict[int, RpmValue] = {1000: name, 1001: version, 1002: release, 1022: arch,
                                  1014: licence,
                                  1044: srpm or f"{name}-{version}-{release}.src.rpm"}
    if epoch is not None:
        tags[1003] = epoch
    return rpm_header(tags)
