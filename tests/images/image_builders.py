"""Test helper: container images built by code (OCI layouts, oci-archive and docker-archive tars).

Every builder takes layers as a list of ``{path: content}`` mappings. Content is ``bytes`` for a
regular file or a :class:`Member` for anything else (directory, symlink, hardlink, device, FIFO,
or a file with its own mode and owner). A layer may also be given as ready ``bytes`` of an
uncompressed tar (used for hostile layers: truncated, traversal names, bombs). Whiteouts are plain
files named ``.wh.NAME`` / ``.wh..wh..opq``.

Stable API (other tests import it):

- ``layer_tar(files) -> bytes``: an uncompressed layer tar.
- ``build_oci_layout(directory, layers, config=None, **options) -> str``: writes (or adds to) an
  OCI image layout folder and returns the new manifest's digest.
- ``oci_archive(out, layers, config=None, **options) -> Path``: the same inside a tar.
- ``docker_archive(out, layers, config=None, repo_tags=..., compression="none") -> Path``: the
  ``docker save`` format (``manifest.json``, ``<id>.json`` config, ``<id>/layer.tar``).
- ``tar_directory(directory, out) -> Path``, ``write_blob``, ``read_blob``, ``digest_of``,
  ``rewrite_manifest``, ``overwrite_blob``, ``nest_index``: for tampering.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import tarfile
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

#: a fixed mtime so that the same inputs give the same digests
EPOCH = 1_700_000_000


@dataclass(frozen=True)
class Member:
    """A layer member that is not a plain ``bytes`` file."""

    kind: str = "file"  # file, dir, symlink, hardlink, char, block, fifo
    data: bytes = b""
    target: str = ""  # link target (symlink, hardlink)
    mode: int | None = None
    uid: int = 0
    gid: int = 0
    devmajor: int = 0
    devminor: int = 0


def symlink(target: str) -> Member:
    """A symlink member pointing at ``target``."""
    return Member(kind="symlink", target=target, mode=0o777)


def hardlink(target: str) -> Member:
    """A hardlink member to ``target`` (a path inside the layer tar)."""
    return Member(kind="hardlink", target=target)


def directory(mode: int = 0o755) -> Member:
    """A directory member."""
    return Member(kind="dir", mode=mode)


_TYPES = {
    "file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE, "char": tarfile.CHRTYPE, "block": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}

LayerFiles = Mapping[str, "bytes | Member"]
LayerSpec = LayerFiles | bytes


def layer_tar(files: LayerFiles) -> bytes:
    """An uncompressed layer tar holding ``files`` in the given order (names kept as given)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, content in files.items():
            member = content if isinstance(content, Member) else Member(data=content)
            info = tarfile.TarInfo(name)
            info.type = _TYPES[member.kind]
            info.mtime = EPOCH
            info.uid, info.gid = member.uid, member.gid
            default_mode = 0o755 if member.kind == "dir" else 0o644
            info.mode = member.mode if member.mode is not None else default_mode
            if member.kind in ("symlink", "hardlink"):
                info.linkname = member.target
            if member.kind in ("char", "block"):
                info.devmajor, info.devminor = member.devmajor, member.devminor
            if member.kind == "file":
                info.size = len(member.data)
                archive.addfile(info, io.BytesIO(member.data))
            else:
                archive.addfile(info)
    return out.getvalue()


def compress(data: bytes, compression: str) -> bytes:
    """``data`` compressed as ``none``, ``gzip`` (deterministic header) or ``zstd``."""
    if compression == "none":
        return data
    if compression == "gzip":
        return gzip.compress(data, mtime=0)
    if compression == "zstd":
        import zstandard  # type: ignore[import-not-found]

        return bytes(zstandard.ZstdCompressor().compress(data))
    raise ValueError(compression)


def digest_of(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def write_blob(layout: Path, data: bytes) -> tuple[str, int]:
    """Store ``data`` under ``layout/blobs/sha256/``; return its digest and size."""
    digest = digest_of(data)
    path = Path(layout) / "blobs" / "sha256" / digest.split(":", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest, len(data)


def read_blob(layout: Path, digest: str) -> bytes:
    """The bytes of blob ``digest`` of the layout."""
    return (Path(layout) / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()


def overwrite_blob(layout: Path, digest: str, data: bytes) -> None:
    """Replace the content of blob ``digest`` with ``data`` (the name then lies)."""
    (Path(layout) / "blobs" / "sha256" / digest.split(":", 1)[1]).write_bytes(data)


def _layer_bytes(spec: LayerSpec) -> bytes:
    return spec if isinstance(spec, bytes) else layer_tar(spec)


def default_config(diff_ids: Sequence[str], platform: str = "linux/amd64") -> dict[str, Any]:
    """A minimal image config for ``diff_ids``."""
    os_name, _, arch = platform.partition("/")
    arch, _, variant = arch.partition("/")
    config: dict[str, Any] = {
        "architecture": arch, "os": os_name,
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": [{"created_by": f"layer {i}"} for i in range(len(diff_ids))],
    }
    if variant:
        config["variant"] = variant
    return config


def _config_for(config: Mapping[str, Any] | None, diff_ids: list[str],
                platform: str) -> dict[str, Any]:
    base = default_config(diff_ids, platform)
    if config is None:
        return base
    merged = copy.deepcopy(dict(config))
    for key in ("architecture", "os", "rootfs", "history"):
        merged.setdefault(key, base[key])
    return merged


def _read_index(layout: Path) -> dict[str, Any]:
    path = Path(layout) / "index.json"
    if path.exists():
        loaded: dict[str, Any] = json.loads(path.read_text())
        return loaded
    return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}


def _write_index(layout: Path, index: Mapping[str, Any]) -> None:
    Path(layout).mkdir(parents=True, exist_ok=True)
    (Path(layout) / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (Path(layout) / "index.json").write_bytes(_canonical(index))


def build_oci_layout(directory: Path | str, layers: Sequence[LayerSpec],
                     config: Mapping[str, Any] | None = None, *, compression: str = "gzip",
                     platform: str | None = "linux/amd64", ref_name: str | None = None,
                     docker_media_types: bool = False,
                     config_override: bytes | None = None) -> str:
    """Write an image into the OCI layout ``directory`` (created, or added to) -> manifest digest.

    ``config`` is merged over a minimal config (``rootfs.diff_ids`` computed unless given);
    ``platform`` (``os/arch[/variant]``, or None) goes on the index entry; ``ref_name`` becomes
    the ``org.opencontainers.image.ref.name`` annotation. ``config_override`` stores those exact
    bytes as the config blob.
    """
    layout = Path(directory)
    layer_media = DOCKER_LAYER_GZIP if docker_media_types else (
        OCI_LAYER + ({"none": "", "gzip": "+gzip", "zstd": "+zstd"}[compression]))
    if docker_media_types and compression != "gzip":
        raise ValueError("docker media types here are gzip layers")
    diff_ids: list[str] = []
    layer_descs: list[dict[str, Any]] = []
    for spec in layers:
        raw = _layer_bytes(spec)
        diff_ids.append(digest_of(raw))
        digest, size = write_blob(layout, compress(raw, compression))
        layer_descs.append({"mediaType": layer_media, "digest": digest, "size": size})
    cfg_bytes = config_override if config_override is not None else _canonical(
        _config_for(config, diff_ids, platform or "linux/amd64"))
    cfg_digest, cfg_size = write_blob(layout, cfg_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST if docker_media_types else OCI_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG if docker_media_types else OCI_CONFIG,
                   "digest": cfg_digest, "size": cfg_size},
        "layers": layer_descs,
    }
    man_digest, man_size = write_blob(layout, _canonical(manifest))
    entry: dict[str, Any] = {"mediaType": manifest["mediaType"], "digest": man_digest,
                             "size": man_size}
    if platform:
        os_name, _, arch = platform.partition("/")
        arch, _, variant = arch.partition("/")
        entry["platform"] = {"os": os_name, "architecture": arch}
        if variant:
            entry["platform"]["variant"] = variant
    if ref_name:
        entry["annotations"] = {"org.opencontainers.image.ref.name": ref_name}
    index = _read_index(layout)
    index["manifests"].append(entry)
    _write_index(layout, index)
    return man_digest


def rewrite_manifest(directory: Path | str, digest: str,
                     mutate: Callable[[dict[str, Any]], None]) -> str:
    """Load manifest ``digest``, let ``mutate`` change it, store it and repoint the index.

    Returns the new manifest digest (the index entry gets the new digest and size).
    """
    layout = Path(directory)
    manifest = json.loads(read_blob(layout, digest))
    mutate(manifest)
    new_digest, new_size = write_blob(layout, _canonical(manifest))
    index = _read_index(layout)
    for entry in index["manifests"]:
        if entry["digest"] == digest:
            entry["digest"], entry["size"] = new_digest, new_size
    _write_index(layout, index)
    return new_digest


def set_index(directory: Path | str, mutate: Callable[[dict[str, Any]], None]) -> None:
    """Let ``mutate`` change the layout's ``index.json`` in place."""
    index = _read_index(Path(directory))
    mutate(index)
    _write_index(Path(directory), index)


def nest_index(directory: Path | str, ref_name: str | None = None) -> str:
    """Move the layout's current manifests into a nested index blob; return its digest.

    ``index.json`` then lists only that nested index (annotated with ``ref_name`` if given).
    """
    layout = Path(directory)
    index = _read_index(layout)
    inner = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": index["manifests"]}
    digest, size = write_blob(layout, _canonical(inner))
    entry: dict[str, Any] = {"mediaType": OCI_INDEX, "digest": digest, "size": size}
    if ref_name:
        entry["annotations"] = {"org.opencontainers.image.ref.name": ref_name}
    _write_index(layout, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]})
    return digest


def tar_directory(directory: Path | str, out: Path | str) -> Path:
    """Tar the contents of ``directory`` (names relative to it, sorted) into ``out``."""
    root, target = Path(directory), Path(out)
    with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.add(path, arcname=path.relative_to(root).as_posix(), recursive=False)
    return target


def oci_archive(out: Path | str, layers: Sequence[LayerSpec],
                config: Mapping[str, Any] | None = None, **options: Any) -> Path:
    """An ``oci-archive`` tar at ``out`` (an OCI layout inside a tar); options as for the layout.

    The manifest digest is ``oci_archive_digest(out)``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        build_oci_layout(tmp, layers, config, **options)
        return tar_directory(tmp, out)


def oci_archive_digest(archive: Path | str) -> str:
    """The digest of the first manifest listed in an ``oci-archive``'s ``index.json``."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("index.json")
        assert member is not None
        digest: str = json.loads(member.read())["manifests"][0]["digest"]
        return digest


def docker_archive(out: Path | str, layers: Sequence[LayerSpec],
                   config: Mapping[str, Any] | None = None, *,
                   repo_tags: Sequence[str] = ("example:latest",),
                   compression: str = "none") -> Path:
    """A ``docker save`` tar at ``out``: ``manifest.json``, ``<id>.json``, ``<n>/layer.tar``.

    Returns ``out``; the image id (config digest) is ``docker_archive_id(out)``.
    """
    members: dict[str, bytes] = {}
    diff_ids: list[str] = []
    layer_names: list[str] = []
    for spec in layers:
        raw = _layer_bytes(spec)
        diff_ids.append(digest_of(raw))
        name = f"{hashlib.sha256(raw).hexdigest()}/layer.tar"
        members[name] = compress(raw, compression)
        layer_names.append(name)
    cfg = _canonical(_config_for(config, diff_ids, "linux/amd64"))
    cfg_name = hashlib.sha256(cfg).hexdigest() + ".json"
    members[cfg_name] = cfg
    members["manifest.json"] = _canonical(
        [{"Config": cfg_name, "RepoTags": list(repo_tags), "Layers": layer_names}])
    target = Path(out)
    with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), EPOCH
            archive.addfile(info, io.BytesIO(data))
    return target


def docker_archive_id(archive: Path | str) -> str:
    """The image id (``sha256:`` of the config) of a ``docker save`` tar."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        config_name: str = json.loads(member.read())[0]["Config"]
        return "sha256:" + config_name.removesuffix(".json")
