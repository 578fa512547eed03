"""Shared helpers of the scan-deps tests: the OSV fixture set, databases built from it, and
OSV records built by code."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from secpipe.scanners.deps.model import Dependency
from secpipe.scanners.deps.osvdb import OsvDatabase, import_sources

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "osv"


def fixture_records() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))]


def fixture_zip(path: Path, records: list[dict[str, Any]] | None = None) -> Path:
    """An OSV-style ``all.zip``: one ``ID.json`` member per record."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for record in records if records is not None else fixture_records():
            zf.writestr(f"{record['id']}.json", json.dumps(record))
    return path


def zip_bytes(records: list[dict[str, Any]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for record in records:
            zf.writestr(f"{record['id']}.json", json.dumps(record))
    return buf.getvalue()


def fixture_db(tmp: Path, now: float | None = None) -> Path:
    db = tmp / "osv.sqlite3"
    import_sources([FIXTURES], db, now=now)
    return db


def open_fixture_db(tmp: Path) -> OsvDatabase:
    return OsvDatabase(fixture_db(tmp))


def record(rid: str, name: str, events: list[dict[str, str]], *, ecosystem: str = "PyPI",
           rtype: str = "ECOSYSTEM", aliases: tuple[str, ...] = (),
           versions: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """A minimal valid OSV record for one package."""
    affected: dict[str, Any] = {"package": {"ecosystem": ecosystem, "name": name}}
    if events:
        affected["ranges"] = [{"type": rtype, "events": events}]
    if versions is not None:
        affected["versions"] = versions
    return {"id": rid, "modified": "2024-05-01T00:00:00Z", "aliases": list(aliases),
            "summary": f"test advisory {rid}", "affected": [affected], **extra}


def dep(name: str, version: str | None, *, ecosystem: str = "PyPI", path: str = "requirements.txt",
        line: int | None = 1, spec: str = "") -> Dependency:
    return Dependency(ecosystem=ecosystem, name=name, version=version,
                      spec=spec or (f"=={version}" if version else ""), path=path, line=line,
                      source="test")
