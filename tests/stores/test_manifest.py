"""Atomic publication (manifest last), digest-checked loading, run resolution — on the local
folder and on a real SeaweedFS S3 server."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from secpipe.core.artifacts import sha256_file
from secpipe.core.errors import StoreError
from secpipe.keys.refs import SecretResolver
from secpipe.stores.interface import ArtifactStore
from secpipe.stores.local import LocalStore
from secpipe.stores.manifest import (
    LocalFile,
    Manifest,
    SignedInfo,
    fetch,
    publish,
    published_runs,
    read_manifest,
    resolve_run,
    run_prefix,
)
from secpipe.stores.open import StoreSettings, open_store
from servers import S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY, Server


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.server)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    server: Server = request.getfixturevalue("s3_server")
    settings = StoreSettings(uri=f"s3://{S3_BUCKET}/manifest/{tmp_path.name}",
                             endpoint_url=server.url, access_key=S3_ACCESS_KEY,
                             secret_key=S3_SECRET_KEY)
    return open_store(settings.uri, settings, tmp_path, SecretResolver(tmp_path))


def _files(tmp_path: Path, count: int = 3) -> list[LocalFile]:
    out = []
    for i in range(count):
        path = tmp_path / "src" / f"f{i}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(1000 + i))
        out.append(LocalFile(name=f"model/f{i}.bin", source=path, path=f"model/f{i}.bin",
                             step="sign", expected_digest="sha256:" + sha256_file(path)[0]))
    return out


def test_publish_writes_every_digest_and_fetch_checks_them(store: ArtifactStore,
                                                           tmp_path: Path) -> None:
    files = _files(tmp_path)
    prefix = run_prefix("mlsecops", "20260101-000000-aaaa")
    signed = SignedInfo(model="model", signature="model.sig", key_id="ab" * 32)
    manifest = publish(store, prefix, "mlsecops", "20260101-000000-aaaa", files, signed)
    assert [f.path for f in manifest.files] == ["model/f0.bin", "model/f1.bin", "model/f2.bin"]
    assert read_manifest(store, prefix) == manifest
    got, paths = fetch(store, prefix, tmp_path / "loaded")
    assert got.signed == signed
    for f in files:
        assert paths[f.path].read_bytes() == f.source.read_bytes()


def test_manifest_is_written_last_and_a_run_without_one_is_invisible(
        store: ArtifactStore, tmp_path: Path) -> None:
    files = _files(tmp_path, 1)
    publish(store, run_prefix("mlsecops", "20260101-000000-aaaa"), "mlsecops",
            "20260101-000000-aaaa", files)
    # an interrupted upload: files but no manifest, and newer than the published run
    store.put_file("mlsecops/20260102-000000-bbbb/files/model/f0.bin", files[0].source)
    assert published_runs(store, "mlsecops") == ["20260101-000000-aaaa"]
    assert resolve_run(store, "mlsecops", "latest") == "20260101-000000-aaaa"
    with pytest.raises(StoreError, match="no published run"):
        fetch(store, run_prefix("mlsecops", "20260102-000000-bbbb"), tmp_path / "x")


def test_a_failed_publication_leaves_nothing_behind(store: ArtifactStore, tmp_path: Path) -> None:
    files = _files(tmp_path, 4)
    files[2].source.unlink()
    prefix = run_prefix("mlsecops", "20260101-000000-cccc")
    with pytest.raises(StoreError, match=r"artifact model/f2.bin .* no longer exists"):
        publish(store, prefix, "mlsecops", "20260101-000000-cccc", files, workers=2)
    assert store.list(prefix) == []


def test_an_artifact_changed_after_its_step_is_not_published(store: ArtifactStore,
                                                             tmp_path: Path) -> None:
    files = _files(tmp_path, 2)
    files[1].source.write_bytes(b"swapped after the scan")
    prefix = run_prefix("mlsecops", "20260101-000000-dddd")
    with pytest.raises(StoreError, match=r"artifact model/f1.bin .* changed after step sign"):
        publish(store, prefix, "mlsecops", "20260101-000000-dddd", files)
    assert store.list(prefix) == []


def test_published_runs_are_immutable(store: ArtifactStore, tmp_path: Path) -> None:
    files = _files(tmp_path, 1)
    prefix = run_prefix("mlsecops", "20260101-000000-eeee")
    publish(store, prefix, "mlsecops", "20260101-000000-eeee", files)
    with pytest.raises(StoreError, match="already published"):
        publish(store, prefix, "mlsecops", "20260101-000000-eeee", files)


def test_tampered_file_fails_the_load_naming_it_and_nothing_is_left(
        store: ArtifactStore, tmp_path: Path) -> None:
    files = _files(tmp_path, 3)
    prefix = run_prefix("mlsecops", "20260101-000000-ffff")
    publish(store, prefix, "mlsecops", "20260101-000000-ffff", files)
    evil = tmp_path / "evil.bin"
    data = bytearray(files[1].source.read_bytes())
    data[10] ^= 0x01  # flip one bit of one byte
    evil.write_bytes(bytes(data))
    store.put_file(f"{prefix}/files/model/f1.bin", evil)
    dest = tmp_path / "loaded"
    with pytest.raises(StoreError, match=r"artifact model/f1.bin .* does not match its manifest"):
        fetch(store, prefix, dest)
    assert not dest.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".loaded.partial")]


def test_malformed_manifests_are_store_errors(tmp_path: Path) -> None:
    for raw in (b"not json", b"{}", json.dumps({
            "format": "secpipe-store-manifest", "version": 1, "pipeline": "p", "run_id": "r",
            "files": [{"name": "x", "path": "../../etc/passwd", "digest": "sha256:" + "0" * 64,
                       "size": 1}]}).encode()):
        with pytest.raises(StoreError, match="malformed"):
            Manifest.from_json(raw, "m.json")


def test_run_references_resolve_by_prefix_and_reject_ambiguity(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s")
    files = _files(tmp_path, 1)
    for run in ("20260101-000000-aaaa", "20260101-000000-aabb", "20260103-000000-cccc"):
        publish(store, run_prefix("p", run), "p", run, files)
    assert resolve_run(store, "p", "20260103") == "20260103-000000-cccc"
    assert resolve_run(store, "p", "latest") == "20260103-000000-cccc"
    with pytest.raises(StoreError, match="more than one"):
        resolve_run(store, "p", "20260101-000000-aa")
    with pytest.raises(StoreError, match="no published run of pipeline q"):
        resolve_run(store, "q", "latest")
    with pytest.raises(StoreError, match="invalid run id"):
        run_prefix("p", "../x")


def test_a_stopped_publication_leaves_nothing_behind(tmp_path: Path) -> None:
    import threading

    store = LocalStore(tmp_path / "s")
    cancel = threading.Event()
    cancel.set()
    prefix = run_prefix("p", "20260101-000000-aaaa")
    with pytest.raises(StoreError, match="stopped; nothing was published"):
        publish(store, prefix, "p", "20260101-000000-aaaa", _files(tmp_path), cancel=cancel)
    assert store.list("p/") == []


def test_hostile_manifest_nesting_is_a_store_error_not_a_crash() -> None:
    raw = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(StoreError, match="malformed"):
        Manifest.from_json(raw, "deep.json")
