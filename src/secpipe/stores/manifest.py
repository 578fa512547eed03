"""Atomic publication of a run's artifacts, and digest-checked loading.

Layout below a store's root::

    <pipeline>/<run-id>/files/<path>      every artifact
    <pipeline>/<run-id>/manifest.json     written LAST: the run is visible only once it exists

A reader ignores a run folder without a manifest, so an interrupted upload is never loaded; a
failed publication also deletes what it uploaded. Loading downloads into a staging folder, checks
every file's SHA-256 against the manifest and only then moves the files into place — into a
folder that did not exist or was empty (:mod:`secpipe.stores.staging`: nothing of the user's is
ever replaced or deleted).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from secpipe import __version__
from secpipe.core.errors import StoreError
from secpipe.stores.interface import ArtifactStore, StoredObject, check_key, join_key
from secpipe.stores.staging import check_free, staged_folder

FORMAT = "secpipe-store-manifest"
VERSION = 1
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 16 << 20
MAX_FILES = 100_000
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")

Progress = Callable[[int, int | None, str], None]


@dataclass(frozen=True)
class ManifestFile:
    """One published file."""

    name: str
    """The artifact's name in the run (``model``, ``data:data/requests.csv``)."""
    path: str
    """Its key below ``files/`` (also its path when loaded)."""
    digest: str
    """``sha256:<hex>``."""
    size: int
    """Bytes."""
    media_type: str = "application/octet-stream"
    """Content type."""
    step: str = ""
    """Id of the step that produced it."""


@dataclass(frozen=True)
class SignedInfo:
    """Which files are the signed model and its evidence (paths below ``files/``)."""

    model: str
    """The model file, or the folder holding the model's files, that the signature covers."""
    signature: str
    """The model-signing bundle."""
    key_id: str
    """SHA-256 of the signer's public key (PEM)."""
    attestation: str | None = None
    """The signed in-toto attestation (DSSE envelope) of what was checked."""
    sbom: str | None = None
    """The CycloneDX SBOM / AI-BOM, if one was made."""


@dataclass(frozen=True)
class Manifest:
    """What a published run holds."""

    pipeline: str
    """Pipeline name."""
    run_id: str
    """Run id."""
    files: tuple[ManifestFile, ...]
    """Every file with its digest."""
    signed: SignedInfo | None = None
    """Set when the run signed a model."""
    created: float = 0.0
    """Unix time of publication."""
    secpipe_version: str = __version__
    """Version that published it."""

    def to_json(self) -> bytes:
        data: dict[str, Any] = {"format": FORMAT, "version": VERSION, **asdict(self)}
        data["files"] = [asdict(f) for f in self.files]
        return json.dumps(data, indent=2, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes, where: str) -> Manifest:
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT or data.get("version") != VERSION:
                raise ValueError("not a secpipe store manifest (version 1)")
            files = data["files"]
            if not isinstance(files, list) or len(files) > MAX_FILES:
                raise ValueError("bad file list")
            parsed = tuple(ManifestFile(**f) for f in files)
            for f in parsed:
                check_key(f.path)
                if not _DIGEST.match(f.digest):
                    raise ValueError(f"bad digest for {f.path}")
            signed = SignedInfo(**data["signed"]) if data.get("signed") else None
            if signed is not None:
                for key in (signed.model, signed.signature, signed.attestation, signed.sbom):
                    if key is not None:
                        check_key(key)
            return cls(pipeline=str(data["pipeline"]), run_id=str(data["run_id"]), files=parsed,
                       signed=signed, created=float(data.get("created", 0.0)),
                       secpipe_version=str(data.get("secpipe_version", "")))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError,
                StoreError) as exc:
            raise StoreError(f"manifest {where} is malformed: {exc}".splitlines()[0]) from None

    def file(self, path: str) -> ManifestFile | None:
        return next((f for f in self.files if f.path == path), None)


@dataclass(frozen=True)
class LocalFile:
    """A file to publish."""

    name: str
    """Artifact name."""
    source: Path
    """Where it is on disk."""
    path: str
    """Key below ``files/``."""
    media_type: str = "application/octet-stream"
    """Content type."""
    step: str = ""
    """Producing step id."""
    expected_digest: str | None = None
    """The digest its step recorded; a different file on disk is an error."""


def run_prefix(pipeline: str, run_id: str) -> str:
    if not _RUN_ID.match(run_id):
        raise StoreError(f"invalid run id {run_id!r}")
    return join_key(check_key(pipeline), run_id)


def _parallel(fn: Callable[[Any], Any], items: Iterable[Any], workers: int) -> list[Any]:
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="secpipe-store") as pool:
        return list(pool.map(fn, items))


def publish(store: ArtifactStore, prefix: str, pipeline: str, run_id: str,
            files: list[LocalFile], signed: SignedInfo | None = None, workers: int = 4,
            progress: Progress | None = None,
            cancel: threading.Event | None = None) -> Manifest:
    """Upload ``files`` below ``prefix/files/`` then write the manifest (last)."""
    paths = [f.path for f in files]
    if len(set(paths)) != len(paths):
        raise StoreError("two artifacts would be stored under the same name")
    if store.stat(join_key(prefix, MANIFEST)) is not None:
        raise StoreError(f"{store.uri}/{prefix} is already published; runs are immutable")
    done: list[str] = []
    lock = threading.Lock()

    def upload(item: LocalFile) -> ManifestFile:
        key = join_key(prefix, "files", check_key(item.path))
        if cancel is not None and cancel.is_set():
            raise StoreError(f"publication of {prefix} was stopped; nothing was published")
        if not item.source.is_file():
            raise StoreError(f"artifact {item.name} ({item.source}) no longer exists")
        stored: StoredObject = store.put_file(key, item.source)
        with lock:
            done.append(key)
            if progress:
                progress(len(done), len(files), item.path)
        if item.expected_digest and stored.digest != item.expected_digest:
            raise StoreError(f"artifact {item.name} ({item.source}) changed after step "
                             f"{item.step or '?'} recorded it (digest differs); not publishing")
        return ManifestFile(name=item.name, path=item.path, digest=str(stored.digest),
                            size=stored.size, media_type=item.media_type, step=item.step)

    try:
        entries = _parallel(upload, files, workers)
        manifest = Manifest(pipeline=pipeline, run_id=run_id, files=tuple(entries),
                            signed=signed, created=time.time())
        store.put_bytes(join_key(prefix, MANIFEST), manifest.to_json())
    except BaseException:
        for key in done:  # nothing half-written: without a manifest nobody reads these anyway
            with contextlib.suppress(StoreError):
                store.delete(key)
        raise
    return manifest


def read_manifest(store: ArtifactStore, prefix: str) -> Manifest:
    key = join_key(prefix, MANIFEST)
    if store.stat(key) is None:
        raise StoreError(f"no published run at {store.uri}/{prefix} (no {MANIFEST})")
    return Manifest.from_json(store.get_bytes(key, MAX_MANIFEST_BYTES), f"{store.uri}/{key}")


def published_runs(store: ArtifactStore, pipeline: str) -> list[str]:
    """Run ids of ``pipeline`` that have a manifest, oldest first (ids sort by time)."""
    runs = []
    for obj in store.list(check_key(pipeline) + "/"):
        parts = obj.key.split("/")
        if len(parts) == 3 and parts[2] == MANIFEST:
            runs.append(parts[1])
    return sorted(runs)


def resolve_run(store: ArtifactStore, pipeline: str, ref: str,
                runs: Sequence[str] | None = None) -> str:
    """``latest``, a run id or a unique prefix of one, among published runs (``runs`` when the
    caller already listed them)."""
    runs = published_runs(store, pipeline) if runs is None else sorted(runs)
    if not runs:
        raise StoreError(f"no published run of pipeline {pipeline} in {store.uri}",
                         hint=f"run `secpipe run {pipeline}` (it ends with a store step) first")
    if ref == "latest":
        return runs[-1]
    matches = [r for r in runs if r.startswith(ref)]
    if len(matches) != 1:
        what = "no" if not matches else "more than one"
        raise StoreError(f"{what} published run of {pipeline} matches {ref!r} in {store.uri}")
    return matches[0]


def fetch(store: ArtifactStore, prefix: str, dest: Path, workers: int = 4,
          progress: Progress | None = None,
          cancel: threading.Event | None = None) -> tuple[Manifest, dict[str, Path]]:
    """Download a published run into ``dest``, a new or empty folder (anything else is refused
    before the download), every digest checked before the files are put there."""
    check_free(dest)
    manifest = read_manifest(store, prefix)
    count = [0]
    lock = threading.Lock()

    def download(entry: ManifestFile, staging: Path) -> None:
        if cancel is not None and cancel.is_set():
            raise StoreError(f"loading {prefix} was stopped; nothing was loaded")
        target = staging / entry.path
        got = store.get_file(join_key(prefix, "files", entry.path), target)
        with lock:
            count[0] += 1
            if progress:
                progress(count[0], len(manifest.files), entry.path)
        if got.digest != entry.digest or got.size != entry.size:
            raise StoreError(f"artifact {entry.path} in {store.uri}/{prefix} does not match its "
                             f"manifest digest (stored {got.digest}, manifest {entry.digest}); "
                             "it was changed after publication")

    with staged_folder(dest) as staging:
        _parallel(lambda entry: download(entry, staging), manifest.files, workers)
    return manifest, {f.path: dest / f.path for f in manifest.files}
