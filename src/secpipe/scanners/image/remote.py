"""Images named in an OCI registry: ``oci://HOST[:PORT]/REPO@sha256:HEX`` or ``…/REPO:TAG``.

``scan-image`` takes such a reference among its ``paths``. The reference is parsed and checked
here (:func:`parse_reference`; credentials never go in it: they are the step's ``username`` and
``password`` settings, secret references as for the OCI store), then :func:`pulled_image` asks
the registry for the manifest (a tag is resolved to the digest of the manifest's bytes), picks the
manifest of the wanted platform in a multi-platform index, and pulls that manifest by digest with
:func:`secpipe.images.registry.pull_image` (the manifest and every blob checked against their
digests and sizes, the total bounded) into a new OCI layout inside a temporary folder under the
step's own folder. The layout is scanned like a local one and the folder is removed when the
context ends, whatever happened. Every problem is a :class:`~secpipe.images.registry.
RegistryError` (an :class:`~secpipe.core.errors.InputError`) with one clear line.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from secpipe.images.layout import DEFAULT_PLATFORM, INDEX_TYPES, MANIFEST_TYPES
from secpipe.images.registry import (
    RegistryClient,
    RegistryError,
    check_digest,
    check_repo,
    check_tag,
    pull_image,
)

SCHEME = "oci://"
MAX_REFERENCE = 1024
"""Longest reference accepted (characters)."""
MAX_INDEX_ENTRIES = 10_000
"""Most manifests read from one image index."""
_HOST = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}))(?::[0-9]{1,5})?$")
FORMS = "oci://HOST[:PORT]/REPO@sha256:HEX or oci://HOST[:PORT]/REPO:TAG"


def is_remote(named: str) -> bool:
    """True when ``named`` (a ``paths`` entry) is a registry reference, not a local path."""
    return named[:len(SCHEME)].lower() == SCHEME


@dataclass(frozen=True)
class RemoteRef:
    """A parsed registry reference."""

    host: str
    """``host[:port]`` of the registry."""
    repo: str
    tag: str | None
    digest: str | None
    """The manifest digest when the reference pins one (it wins over a tag)."""

    def __str__(self) -> str:
        tail = (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")
        return f"{SCHEME}{self.host}/{self.repo}{tail}"


def parse_reference(text: str) -> RemoteRef:
    """The reference ``text`` names; a :class:`RegistryError` saying which part is wrong.

    A reference with credentials in it (``oci://user:pass@host/…``) is refused without being
    echoed, so a password typed there never reaches a message or a report.
    """
    if not is_remote(text):
        raise RegistryError(f"not a registry reference (write {FORMS})")
    rest = text[len(SCHEME):]
    host, slash, path = rest.partition("/")
    if "@" in host:
        raise RegistryError("a registry reference holds no user name or password (not echoed)",
                            hint="give them as the username / password settings (secret "
                                 "references such as ${env:REGISTRY_PASSWORD})")
    shown = text[:160] + ("…" if len(text) > 160 else "")
    if len(text) > MAX_REFERENCE:
        raise RegistryError(f"reference {shown!r} is longer than {MAX_REFERENCE} characters")
    if not slash or not path or not _HOST.match(host):
        raise RegistryError(f"{shown!r} is not an image reference", hint=f"write {FORMS}")
    digest: str | None = None
    name, at, pinned = path.partition("@")
    if at:
        digest = check_digest(pinned, f"reference {shown!r}")
    last = name.rsplit("/", 1)[-1]
    tag: str | None = None
    if ":" in last:
        name, _, tag = name.rpartition(":")
        check_tag(tag)
    if tag is None and digest is None:
        raise RegistryError(f"{shown!r} names neither a tag nor a digest",
                            hint=f"write {FORMS} (no implicit 'latest')")
    return RemoteRef(host, check_repo(name), tag, digest)


@dataclass(frozen=True)
class PulledImage:
    """An image pulled from a registry into a temporary OCI layout."""

    reference: RemoteRef
    layout: Path
    """The OCI layout (removed when :func:`pulled_image`'s context ends)."""
    digest: str
    """Digest of the image manifest pulled and scanned."""
    index_digest: str | None
    """Digest of the multi-platform index the reference named, if it named one."""
    platform: str | None
    """The platform chosen in that index."""

    @property
    def label(self) -> str:
        """How reports name the image: the reference with the digest scanned."""
        ref = self.reference
        return f"{SCHEME}{ref.host}/{ref.repo}" + (f":{ref.tag}" if ref.tag else "") \
            + f"@{self.digest}"

    @property
    def ids(self) -> tuple[str, ...]:
        """Names a VEX statement may give this image by (besides its digests)."""
        ref = self.reference
        out = [self.label, f"{ref.host}/{ref.repo}@{self.digest}", str(ref)]
        if self.index_digest:
            out.append(self.index_digest)
        return tuple(dict.fromkeys(out))

    @property
    def note(self) -> str:
        """One line for the step's message: which digest was scanned for the reference."""
        if self.index_digest:
            return (f"{self.reference}: index {self.index_digest}, {self.platform} manifest "
                    f"{self.digest} scanned")
        if self.reference.digest:
            return f"{self.reference} scanned"
        return f"{self.reference} resolved to {self.digest} (scanned)"


def _platform_of(entry: Mapping[str, Any]) -> str | None:
    plat = entry.get("platform")
    if not isinstance(plat, Mapping):
        return None
    os_name, arch = plat.get("os"), plat.get("architecture")
    if not isinstance(os_name, str) or not isinstance(arch, str):
        return None
    variant = plat.get("variant")
    text = f"{os_name}/{arch}"
    return f"{text}/{variant}" if isinstance(variant, str) and variant else text


def _matches(have: str | None, want: str) -> bool:
    if have is None:
        return False
    if want.count("/") >= 2:
        return have == want
    return have.split("/")[:2] == want.split("/")[:2]


def choose_platform(index: Mapping[str, Any], want: str, what: str) -> tuple[str, str]:
    """``(digest, platform)`` of the image manifest for platform ``want`` (``os/arch`` or
    ``os/arch/variant``) in a multi-platform ``index``; else a :class:`RegistryError` listing the
    platforms the index has. Attestation manifests are never chosen; a nested index is refused."""
    entries = index.get("manifests")
    if not isinstance(entries, list) or len(entries) > MAX_INDEX_ENTRIES:
        raise RegistryError(f"{what}: the image index has no bounded manifests list")
    have: list[str] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise RegistryError(f"{what}: an image index entry is not an object")
        notes = entry.get("annotations")
        if isinstance(notes, Mapping) and \
                notes.get("vnd.docker.reference.type") == "attestation-manifest":
            continue
        platform = _platform_of(entry)
        if platform == "unknown/unknown":
            continue
        if not _matches(platform, want):
            have.append(platform or "unspecified")
            continue
        media = entry.get("mediaType")
        if media in INDEX_TYPES:
            raise RegistryError(f"{what}: the {platform} entry is itself an index (nested "
                                "indexes are not pulled)", hint="scan the entry's digest")
        if media not in MANIFEST_TYPES:
            raise RegistryError(f"{what}: the {platform} entry has media type "
                                f"{str(media)[:80]!r}")
        found = check_digest(str(entry.get("digest")), f"{what}: the {platform} entry")
        return found, str(platform)
    listed = ", ".join(sorted(set(have))) or "none"
    raise RegistryError(f"{what}: the image index has no manifest for platform {want} "
                        f"(has: {listed})", hint="set the platform setting (--platform OS/ARCH)")


@contextmanager
def pulled_image(ref: RemoteRef, workdir: Path, *, insecure: bool = False,
                 username: str | None = None, password: str | None = None,
                 platform: str | None = None, max_bytes: int,
                 log: Callable[[str], None] | None = None) -> Iterator[PulledImage]:
    """Pull the image ``ref`` names into a temporary OCI layout under ``workdir`` and yield it;
    the temporary folder is removed on exit. ``max_bytes`` bounds the blobs pulled in total."""
    workdir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="pull-", dir=workdir))
    try:
        client = RegistryClient(ref.host, insecure=insecure, username=username,
                                password=password)
        try:
            client.ping()
        except RegistryError as exc:
            hint = ("check the host and port" if insecure else
                    "a registry over plain HTTP needs insecure: true (secpipe scan image "
                    "--insecure)")
            raise RegistryError(f"{exc.message} (the registry is unreachable or is not one)",
                                hint=exc.hint or hint) from None
        wanted = ref.digest or ref.tag
        assert wanted is not None  # parse_reference gives one or the other
        manifest = client.get_manifest(ref.repo, wanted)
        if manifest is None:
            what = f"{ref.repo}@{ref.digest}" if ref.digest else f"{ref.repo}:{ref.tag}"
            raise RegistryError(f"registry {client.host}: {what} does not exist (unknown "
                                "repository, tag or digest)")
        digest, index_digest, chosen = manifest.digest, None, None
        if manifest.media_type in INDEX_TYPES:
            index_digest = manifest.digest
            digest, chosen = choose_platform(manifest.content, platform or DEFAULT_PLATFORM,
                                             str(ref))
        if log is not None:
            log(f"pulling {ref} ({digest}) from {client.host}")
        layout = pull_image(ref.host, ref.repo, digest, scratch / "layout", insecure,
                            username=username, password=password, max_total_bytes=max_bytes)
        yield PulledImage(ref, layout, digest, index_digest, chosen)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
