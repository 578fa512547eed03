"""Read a container image without a daemon: OCI layout folder, ``oci-archive``, ``docker-archive``.

:func:`open_image` detects the format, picks one manifest (by ref name, digest or platform,
through nested indexes), and returns an :class:`Image` whose blobs are read through
:class:`VerifiedBlob`: every byte is hashed and counted, and a blob that is longer or shorter
than its descriptor says, or whose digest differs, is an :class:`BlobMismatch` naming it. Blob
paths come only from validated digests (never from names in the image). Nothing is extracted:
archive members are read in place. Layers are applied by :mod:`secpipe.images.layers`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from secpipe.core.errors import InputError

ImageFormat = Literal["oci-layout", "oci-archive", "docker-archive"]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
CONFIG_TYPES = frozenset({"application/vnd.oci.image.config.v1+json",
                          "application/vnd.docker.container.image.v1+json"})

#: layer media type -> compression
LAYER_TYPES: Mapping[str, str] = {
    "application/vnd.oci.image.layer.v1.tar": "none",
    "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd": "zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar": "none",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": "zstd",
    "application/vnd.docker.image.rootfs.diff.tar": "none",
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": "gzip",
}

REF_ANNOTATION = "org.opencontainers.image.ref.name"
_DIGEST = re.compile(r"^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")
#: largest JSON document (index, manifest, config) read
MAX_JSON_BYTES = 8 * 1024 * 1024
MAX_INDEX_DEPTH = 4
MAX_ARCHIVE_MEMBERS = 100_000
MAX_LAYERS = 1_000
DEFAULT_PLATFORM = "linux/amd64"


class ImageError(InputError):
    """The image is malformed, hostile, or not in a format this reader knows."""


class BlobMismatch(ImageError):
    """A blob's content differs from its descriptor (digest or size)."""


class UnsupportedImage(ImageError):
    """The image uses a feature this reader does not support (media type, compression)."""


def check_digest(value: object, what: str) -> str:
    """``value`` if it is a ``sha256:``/``sha512:`` digest in canonical form, else ImageError."""
    if not isinstance(value, str) or not _DIGEST.match(value):
        raise ImageError(f"{what}: invalid digest {str(value)[:80]!r}")
    return value


class VerifiedBlob:
    """A read-only stream over a blob that checks its digest and size as it is read.

    Reading past the declared size, or reaching the end early, or a digest that differs at the
    end, raises :class:`BlobMismatch` naming ``what``. :meth:`finish` drains what was not read
    and runs the same checks.
    """

    def __init__(self, raw: IO[bytes], digest: str | None, size: int | None, what: str) -> None:
        self._raw = raw
        self._digest = digest
        self._size = size
        self._what = what
        algo = digest.split(":", 1)[0] if digest else "sha256"
        self._hash = hashlib.new(algo)
        self.count = 0
        self._done = False

    def readable(self) -> bool:
        """Always true."""
        return True

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all when ``n`` < 0), checking size and digest at the end."""
        if self._done:
            return b""
        if n is None or n < 0:
            parts = []
            while chunk := self.read(1 << 20):
                parts.append(chunk)
            return b"".join(parts)
        want = n if self._size is None else min(n, self._size - self.count + 1)
        data = self._raw.read(want) if want > 0 else b""
        self.count += len(data)
        if self._size is not None and self.count > self._size:
            raise BlobMismatch(f"{self._what}: blob is larger than its declared size "
                               f"{self._size}")
        self._hash.update(data)
        if not data and n > 0:
            self._check_end()
        return data

    def _check_end(self) -> None:
        self._done = True
        if self._size is not None and self.count != self._size:
            raise BlobMismatch(f"{self._what}: blob has {self.count} bytes, its descriptor "
                               f"says {self._size}")
        if self._digest is not None:
            actual = f"{self._hash.name}:{self._hash.hexdigest()}"
            if actual != self._digest:
                raise BlobMismatch(f"{self._what}: content digest {actual} does not match "
                                   f"{self._digest}")

    def finish(self) -> None:
        """Read to the end and verify (no-op once verified)."""
        while not self._done:
            self.read(1 << 20)

    def close(self) -> None:
        """Close the underlying stream."""
        self._raw.close()


#: largest PAX / GNU long-name header tarfile may read into memory
MAX_TAR_HEADER_BYTES = 1024 * 1024
_HEADER_TYPES = frozenset({tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE,
                           tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE})


class BoundedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses extended headers (PAX, GNU long names) over a size bound.

    ``tarfile`` reads such a header whole into memory; a hostile archive could declare one of
    gigabytes. Pass it as ``tarinfo=`` to :func:`tarfile.open`.
    """

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _HEADER_TYPES and self.size > MAX_TAR_HEADER_BYTES:
            raise ImageError(f"tar member {self.name[:200]!r}: extended header of {self.size} "
                             f"bytes (limit {MAX_TAR_HEADER_BYTES})")
        result: tarfile.TarInfo = super()._proc_member(tar)  # type: ignore[misc]
        return result


class _Source:
    """Where the image's files live: a folder or a tar, read in place."""

    def open_path(self, name: str) -> IO[bytes] | None:
        raise NotImplementedError

    def size_of(self, name: str) -> int | None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the source."""

    def read_small(self, name: str, what: str) -> bytes | None:
        size = self.size_of(name)
        if size is None:
            return None
        if size > MAX_JSON_BYTES:
            raise ImageError(f"{what}: {name} is {size} bytes (limit {MAX_JSON_BYTES})")
        stream = self.open_path(name)
        if stream is None:
            return None
        with stream:
            return stream.read(MAX_JSON_BYTES + 1)


class _DirSource(_Source):
    def __init__(self, root: Path) -> None:
        self.root = root

    def _regular(self, name: str) -> Path | None:
        path = self.root / name
        try:
            info = path.lstat()
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(f"{path}: not a regular file (a link or special file in a layout "
                             "is refused)")
        return path

    def size_of(self, name: str) -> int | None:
        path = self._regular(name)
        return None if path is None else path.stat().st_size

    def open_path(self, name: str) -> IO[bytes] | None:
        path = self._regular(name)
        if path is None:
            return None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        return os.fdopen(fd, "rb")


class _TarSource(_Source):
    def __init__(self, path: Path) -> None:
        try:
            self.tar = tarfile.open(path, "r:*",  # noqa: SIM115 - closed by close()
                                    tarinfo=BoundedTarInfo)
        except (tarfile.TarError, OSError, EOFError) as err:
            raise ImageError(f"{path}: not a readable tar archive ({err})") from err
        self.members: dict[str, tarfile.TarInfo] = {}
        count = 0
        try:
            while (info := self.tar.next()) is not None:
                count += 1
                if count > MAX_ARCHIVE_MEMBERS:
                    raise ImageError(f"{path}: more than {MAX_ARCHIVE_MEMBERS} members")
                name = info.name
                while name.startswith("./"):
                    name = name[2:]
                if info.isreg():
                    self.members[name] = info
        except (tarfile.TarError, EOFError, OSError) as err:
            self.tar.close()
            raise ImageError(f"{path}: truncated or corrupt tar archive ({err})") from err
        except ImageError:
            self.tar.close()
            raise

    def size_of(self, name: str) -> int | None:
        info = self.members.get(name)
        return None if info is None else info.size

    def open_path(self, name: str) -> IO[bytes] | None:
        info = self.members.get(name)
        return None if info is None else self.tar.extractfile(info)

    def close(self) -> None:
        self.tar.close()


@dataclass(frozen=True)
class Layer:
    """One layer of the image, in order (index 0 is the base)."""

    index: int
    path: str  # where the blob lives in the source (e.g. ``blobs/sha256/<hex>``)
    digest: str | None  # the blob's digest (None for a legacy docker-archive layer)
    size: int | None
    media_type: str
    compression: str  # "none", "gzip", "zstd", or "auto" (sniffed from the bytes)
    diff_id: str | None  # digest of the uncompressed tar, from the config


@dataclass(frozen=True)
class HistoryEntry:
    """One ``history`` line of the image config."""

    created_by: str
    created: str
    comment: str
    empty_layer: bool


@dataclass(frozen=True)
class ImageConfig:
    """The parts of the image config the scanners read, plus the whole parsed JSON."""

    os: str
    architecture: str
    variant: str
    user: str
    env: tuple[str, ...]
    labels: Mapping[str, str]
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    working_dir: str
    exposed_ports: tuple[str, ...]
    history: tuple[HistoryEntry, ...]
    diff_ids: tuple[str, ...]
    raw: Mapping[str, Any]

    @property
    def platform(self) -> str:
        """``os/arch[/variant]``."""
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base


@dataclass(frozen=True)
class Image:
    """An opened image: its config, manifest and layers, readable until :meth:`close`."""

    source: Path
    format: ImageFormat
    manifest_digest: str | None  # None for a legacy docker-archive (it holds no manifest)
    manifest: Mapping[str, Any] | None
    config_digest: str
    config: ImageConfig
    layers: tuple[Layer, ...]
    ref_names: tuple[str, ...]
    _source: _Source = field(repr=False, compare=False)

    def open_layer(self, layer: Layer) -> VerifiedBlob:
        """The layer's blob (still compressed), verified as it is read.

        For a tar source, blobs share the archive's file handle: read one at a time.
        """
        stream = self._source.open_path(layer.path)
        if stream is None:
            raise ImageError(f"layer {layer.index} ({layer.digest or layer.path}): blob missing "
                             f"from {self.source}")
        return VerifiedBlob(stream, layer.digest, layer.size,
                            f"layer {layer.index} ({layer.digest or layer.path})")

    def close(self) -> None:
        """Close the archive (for tar sources)."""
        self._source.close()

    def __enter__(self) -> Image:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _load_json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as err:
        raise ImageError(f"{what}: not valid JSON ({err})") from err


def _read_blob_json(source: _Source, desc: Mapping[str, Any], what: str) -> tuple[Any, bytes]:
    digest = check_digest(desc.get("digest"), what)
    size = desc.get("size")
    if not isinstance(size, int) or size < 0:
        raise ImageError(f"{what} {digest}: descriptor has no valid size")
    if size > MAX_JSON_BYTES:
        raise ImageError(f"{what} {digest}: {size} bytes (limit {MAX_JSON_BYTES})")
    name = "blobs/" + digest.replace(":", "/", 1)
    stream = source.open_path(name)
    if stream is None:
        raise ImageError(f"{what} {digest}: blob missing")
    blob = VerifiedBlob(stream, digest, size, f"{what} {digest}")
    with stream:
        data = blob.read()
        blob.finish()
    return _load_json(data, f"{what} {digest}"), data


@dataclass(frozen=True)
class _Candidate:
    desc: Mapping[str, Any]
    refs: tuple[str, ...]
    platform: str | None
    attestation: bool


def _platform_of(desc: Mapping[str, Any]) -> str | None:
    plat = desc.get("platform")
    if not isinstance(plat, Mapping):
        return None
    text = f"{plat.get('os', '')}/{plat.get('architecture', '')}"
    return f"{text}/{plat['variant']}" if plat.get("variant") else text


def _candidates(source: _Source, index: Mapping[str, Any], refs: tuple[str, ...],
                depth: int) -> Iterator[_Candidate]:
    if depth > MAX_INDEX_DEPTH:
        raise ImageError(f"image index nested deeper than {MAX_INDEX_DEPTH}")
    manifests = index.get("manifests")
    if not isinstance(manifests, list):
        raise ImageError("image index has no manifests list")
    for desc in manifests:
        if not isinstance(desc, Mapping):
            raise ImageError("image index entry is not an object")
        notes = desc.get("annotations") if isinstance(desc.get("annotations"), Mapping) else {}
        assert isinstance(notes, Mapping)
        ref = notes.get(REF_ANNOTATION) or notes.get("io.containerd.image.name")
        these = (*refs, ref) if isinstance(ref, str) and ref else refs
        media = _media(desc)
        if media in INDEX_TYPES:
            nested, _ = _read_blob_json(source, desc, "image index")
            if not isinstance(nested, Mapping):
                raise ImageError("nested image index is not an object")
            yield from _candidates(source, nested, these, depth + 1)
        elif media in MANIFEST_TYPES:
            attestation = notes.get("vnd.docker.reference.type") == "attestation-manifest"
            yield _Candidate(desc, these, _platform_of(desc), attestation)
        else:
            raise UnsupportedImage(f"image index entry has unsupported media type {media!r}")


def _platform_matches(have: str | None, want: str) -> bool:
    if have is None:
        return False
    if want.count("/") >= 2:
        return have == want
    return have.split("/")[:2] == want.split("/")[:2]


def _select(cands: Sequence[_Candidate], ref: str | None, platform: str | None) -> _Candidate:
    pool = [c for c in cands if not c.attestation]
    if ref is not None:
        if _DIGEST.match(ref):
            pool = [c for c in pool if c.desc.get("digest") == ref]
        else:
            pool = [c for c in pool if ref in c.refs or any(r.endswith(":" + ref)
                                                            for r in c.refs)]
        if not pool:
            known = sorted({r for c in cands for r in c.refs})
            raise ImageError(f"no image named {ref!r} in the index (names: "
                             f"{', '.join(known) or 'none'})")
    if not pool:
        raise ImageError("the image index lists no image manifest")
    if len(pool) == 1 and platform is None:
        return pool[0]
    want = platform or DEFAULT_PLATFORM
    matching = [c for c in pool if _platform_matches(c.platform, want)]
    if not matching and len(pool) == 1 and pool[0].platform is None:
        return pool[0]  # a single image without platform annotation: the config tells
    if not matching:
        have = sorted({c.platform or "unspecified" for c in pool})
        raise ImageError(f"no image for platform {want} in the index (has: {', '.join(have)})")
    return matching[0]


def _media(obj: Mapping[str, Any]) -> str:
    value = obj.get("mediaType")
    return value if isinstance(value, str) else ""


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _parse_config(raw: Any, what: str) -> ImageConfig:
    if not isinstance(raw, Mapping):
        raise ImageError(f"{what}: config is not a JSON object")
    inner = raw.get("config") if isinstance(raw.get("config"), Mapping) else {}
    assert isinstance(inner, Mapping)

    def strs(value: Any) -> tuple[str, ...]:
        return tuple(str(v) for v in value) if isinstance(value, list) else ()

    history = tuple(
        HistoryEntry(created_by=str(h.get("created_by", "")), created=str(h.get("created", "")),
                     comment=str(h.get("comment", "")),
                     empty_layer=bool(h.get("empty_layer", False)))
        for h in _as_list(raw.get("history")) if isinstance(h, Mapping))
    rootfs = raw.get("rootfs") if isinstance(raw.get("rootfs"), Mapping) else {}
    assert isinstance(rootfs, Mapping)
    diff_ids = strs(rootfs.get("diff_ids"))
    for diff_id in diff_ids:
        check_digest(diff_id, f"{what}: rootfs.diff_ids")
    labels = inner.get("Labels")
    ports = inner.get("ExposedPorts")
    return ImageConfig(
        os=str(raw.get("os", "")), architecture=str(raw.get("architecture", "")),
        variant=str(raw.get("variant", "") or ""), user=str(inner.get("User", "") or ""),
        env=strs(inner.get("Env")),
        labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {},
        entrypoint=strs(inner.get("Entrypoint")), cmd=strs(inner.get("Cmd")),
        working_dir=str(inner.get("WorkingDir", "") or ""),
        exposed_ports=tuple(sorted(str(p) for p in ports)) if isinstance(ports, Mapping) else (),
        history=history, diff_ids=diff_ids, raw=raw)


def _open_oci(path: Path, source: _Source, fmt: ImageFormat, ref: str | None,
              platform: str | None) -> Image:
    index_bytes = source.read_small("index.json", str(path))
    if index_bytes is None:
        raise ImageError(f"{path}: no index.json")
    index = _load_json(index_bytes, f"{path}: index.json")
    if not isinstance(index, Mapping):
        raise ImageError(f"{path}: index.json is not a JSON object")
    chosen = _select(list(_candidates(source, index, (), 0)), ref, platform)
    manifest, _ = _read_blob_json(source, chosen.desc, "manifest")
    man_digest = str(chosen.desc["digest"])
    if not isinstance(manifest, Mapping):
        raise ImageError(f"manifest {man_digest}: not a JSON object")
    if (_media(manifest) or _media(chosen.desc)) not in MANIFEST_TYPES:
        raise UnsupportedImage(f"manifest {man_digest}: unsupported media type "
                               f"{manifest.get('mediaType')!r}")
    cfg_desc = manifest.get("config")
    if not isinstance(cfg_desc, Mapping):
        raise ImageError(f"manifest {man_digest}: no config descriptor")
    if _media(cfg_desc) not in CONFIG_TYPES:
        raise UnsupportedImage(f"manifest {man_digest}: config media type "
                               f"{cfg_desc.get('mediaType')!r} is not an image config")
    cfg_raw, _ = _read_blob_json(source, cfg_desc, "config")
    config = _parse_config(cfg_raw, f"config {cfg_desc['digest']}")
    descs = manifest.get("layers")
    if not isinstance(descs, list):
        raise ImageError(f"manifest {man_digest}: no layers list")
    if len(descs) > MAX_LAYERS:
        raise ImageError(f"manifest {man_digest}: {len(descs)} layers (limit {MAX_LAYERS})")
    if config.diff_ids and len(config.diff_ids) != len(descs):
        raise ImageError(f"manifest {man_digest}: {len(descs)} layers but the config lists "
                         f"{len(config.diff_ids)} diff_ids")
    layers = []
    for i, desc in enumerate(descs):
        if not isinstance(desc, Mapping):
            raise ImageError(f"manifest {man_digest}: layer {i} is not an object")
        digest = check_digest(desc.get("digest"), f"layer {i}")
        size = desc.get("size")
        if not isinstance(size, int) or size < 0:
            raise ImageError(f"layer {i} ({digest}): descriptor has no valid size")
        media = _media(desc)
        if media not in LAYER_TYPES:
            raise UnsupportedImage(f"layer {i} ({digest}): unsupported media type {media!r}")
        layers.append(Layer(index=i, path="blobs/" + digest.replace(":", "/", 1), digest=digest,
                            size=size, media_type=media, compression=LAYER_TYPES[media],
                            diff_id=config.diff_ids[i] if config.diff_ids else None))
    return Image(source=path, format=fmt, manifest_digest=man_digest, manifest=manifest,
                 config_digest=str(cfg_desc["digest"]), config=config, layers=tuple(layers),
                 ref_names=chosen.refs, _source=source)


def _open_docker(path: Path, source: _Source, ref: str | None) -> Image:
    data = source.read_small("manifest.json", str(path))
    entries = _load_json(data or b"", f"{path}: manifest.json")
    if not isinstance(entries, list) or not entries:
        raise ImageError(f"{path}: manifest.json lists no image")
    chosen = entries[0]
    if ref is not None:
        for entry in entries:
            tags = entry.get("RepoTags") if isinstance(entry, Mapping) else None
            if isinstance(tags, list) and (ref in tags or any(t.endswith(":" + ref)
                                                              for t in tags)):
                chosen = entry
                break
        else:
            raise ImageError(f"{path}: no image tagged {ref!r} in manifest.json")
    if not isinstance(chosen, Mapping) or not isinstance(chosen.get("Config"), str):
        raise ImageError(f"{path}: manifest.json entry has no Config")
    cfg_name = str(chosen["Config"])
    hexpart = cfg_name.removeprefix("blobs/sha256/").removesuffix(".json")
    cfg_digest = check_digest("sha256:" + hexpart, f"{path}: config {cfg_name}")
    cfg_size = source.size_of(cfg_name)
    if cfg_size is None:
        raise ImageError(f"{path}: config {cfg_name} missing")
    if cfg_size > MAX_JSON_BYTES:
        raise ImageError(f"{path}: config {cfg_name} is {cfg_size} bytes")
    stream = source.open_path(cfg_name)
    assert stream is not None
    blob = VerifiedBlob(stream, cfg_digest, cfg_size, f"config {cfg_name}")
    cfg_bytes = blob.read()
    blob.finish()
    config = _parse_config(_load_json(cfg_bytes, f"config {cfg_name}"), f"config {cfg_name}")
    names = chosen.get("Layers")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ImageError(f"{path}: manifest.json entry has no Layers list")
    if len(names) > MAX_LAYERS:
        raise ImageError(f"{path}: {len(names)} layers (limit {MAX_LAYERS})")
    if len(config.diff_ids) != len(names):
        raise ImageError(f"{path}: {len(names)} layers but the config lists "
                         f"{len(config.diff_ids)} diff_ids")
    layers = []
    for i, name in enumerate(names):
        size = source.size_of(name)
        if size is None:
            raise ImageError(f"{path}: layer {i} ({name}) missing from the archive")
        # a docker-archive names layers by path; the diff_id (checked while applying) binds them
        digest = None
        if name.startswith("blobs/sha256/"):
            digest = check_digest("sha256:" + name.removeprefix("blobs/sha256/"),
                                  f"layer {i}")
        layers.append(Layer(index=i, path=name, digest=digest, size=size,
                            media_type="application/vnd.docker.image.rootfs.diff.tar",
                            compression="auto", diff_id=config.diff_ids[i]))
    tags = chosen.get("RepoTags")
    refs = tuple(str(t) for t in tags) if isinstance(tags, list) else ()
    return Image(source=path, format="docker-archive", manifest_digest=None, manifest=None,
                 config_digest=cfg_digest, config=config, layers=tuple(layers), ref_names=refs,
                 _source=source)


def open_image(path: Path | str, *, ref: str | None = None,
               platform: str | None = None) -> Image:
    """Open the image at ``path``: an OCI layout folder, an oci-archive or a docker save tar.

    ``ref`` selects by ``org.opencontainers.image.ref.name`` (or a docker tag, or a manifest
    digest); ``platform`` (``os/arch[/variant]``) selects in a multi-platform index, default
    ``linux/amd64`` when the index offers several images. Raises :class:`ImageError` (an
    :class:`~secpipe.core.errors.InputError`) on anything malformed; close the image when done.
    """
    where = Path(path)
    if where.is_dir():
        source: _Source = _DirSource(where)
        if source.size_of("oci-layout") is None or source.size_of("index.json") is None:
            raise ImageError(f"{where}: not an OCI image layout (no oci-layout and index.json)")
        return _open_oci(where, source, "oci-layout", ref, platform)
    if not where.is_file():
        raise ImageError(f"{where}: no such image file or folder")
    source = _TarSource(where)
    try:
        if source.size_of("oci-layout") is not None and source.size_of("index.json") is not None:
            fmt: ImageFormat = ("docker-archive" if source.size_of("manifest.json") is not None
                                else "oci-archive")
            return _open_oci(where, source, fmt, ref, platform)
        if source.size_of("manifest.json") is not None:
            return _open_docker(where, source, ref)
        raise ImageError(f"{where}: a tar, but neither an oci-archive (oci-layout, index.json) "
                         "nor a docker-archive (manifest.json)")
    except BaseException:
        source.close()
        raise
