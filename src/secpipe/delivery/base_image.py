"""The base image of a ``build-image`` step: where it comes from, checked before buildah sees it.

Spellings of the ``base:`` setting:

- ``none`` (the default): the Dockerfile needs no base (``FROM scratch``) or its base is already
  in the build's store (never the case: the store is fresh for every build);
- ``oci:PATH`` or ``oci:PATH:REF``: a local OCI image layout folder (``REF`` selects the manifest
  by its ``org.opencontainers.image.ref.name``);
- ``oci-archive:PATH`` or ``oci-archive:PATH:REF``: the same inside a tar.

``PATH`` is relative to the project root unless absolute. The layout is opened with
:func:`secpipe.images.open_image` first (index, manifest and config parsed and bounded, the
platform chosen), so a missing or malformed base is a clear :class:`BaseImageError` before any
program runs (with ``layers=True`` every layer is read too and hostile members refused);
buildah then loads it into the build's own store (``buildah pull oci:…``, no
network) and the Dockerfile's first ``FROM`` is replaced by it (``--from``).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from secpipe.core.errors import InputError

BaseKind = Literal["oci", "oci-archive"]
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_SPEC_CHARS = 4096
MAX_BASE_BYTES = 8 * 1024**3
"""Default bound on a base image's uncompressed layers when they are read."""


class BaseImageError(InputError):
    """The ``base:`` setting is malformed, or the image it names is missing or unreadable."""


@dataclass(frozen=True)
class BaseImage:
    """A base image on local disk, as the ``base:`` setting names it."""

    kind: BaseKind
    """``oci`` (a layout folder) or ``oci-archive`` (a tar of one)."""
    path: Path
    """The layout folder or archive (absolute)."""
    ref: str | None
    """The ref name selecting the manifest, or None (the layout's only image)."""

    @property
    def transport(self) -> str:
        """The containers-image reference buildah pulls (``oci:/abs/path:ref``)."""
        return self.transport_at(self.path)

    def transport_at(self, path: Path) -> str:
        """The same reference with the layout or archive reached through ``path``."""
        where = f"{self.kind}:{path}"
        return f"{where}:{self.ref}" if self.ref else where


_NAMEABLE = re.compile(r"^(/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+$")


def nameable(path: Path) -> bool:
    """Whether buildah can name an image after ``path``: ``buildah pull oci:PATH`` names it
    ``localhost/PATH``, which must be a valid image name (lower case, no component starting
    with a dot: a layout under ``~/.cache`` or ``/home/Alice`` fails with "invalid reference
    format")."""
    return bool(_NAMEABLE.match(str(path)))


def pullable_link(base: BaseImage, scratch: Path) -> Path:
    """A path buildah can pull ``base`` from: the base's own path when it is nameable, else a
    symbolic link to it in a fresh folder of ``scratch`` or of the system's temporary folder
    (the first that is nameable; the caller removes it). :class:`BaseImageError` when neither is."""
    import secrets
    import tempfile

    if nameable(base.path):
        return base.path
    for parent in (scratch, Path(tempfile.gettempdir())):
        # hex names only: mkdtemp's alphabet has "_", which may not end or follow "-" in an
        # image name
        holder = parent.resolve() / f"secpipe-base-{secrets.token_hex(8)}"
        link = holder / "base"
        if not nameable(link):
            continue
        try:
            holder.mkdir(mode=0o700)
        except OSError:
            continue
        link.symlink_to(base.path, target_is_directory=base.kind == "oci")
        return link
    raise BaseImageError(
        f"base image {base.path}: buildah cannot name an image after this path (it needs lower "
        "case letters, digits, '.', '_' or '-' and no folder starting with a dot), and no "
        "temporary folder with such a path was found", hint="move the layout to such a path")


@dataclass(frozen=True)
class CheckedBase:
    """A base image that opened cleanly."""

    image: BaseImage
    """Where it is."""
    manifest_digest: str | None
    """Its manifest digest (``sha256:…``)."""
    platform: str
    """Its ``os/arch``."""
    layers: int
    """Its number of layers."""


def parse_base(spec: str, project_root: Path) -> BaseImage | None:
    """The base image ``spec`` names (None for ``none``); :class:`BaseImageError` when the
    spelling is wrong. Nothing is read here."""
    text = spec.strip()
    if len(text) > MAX_SPEC_CHARS or any(ord(c) < 32 for c in text):
        raise BaseImageError("base: too long or holds control characters")
    if text in ("", "none"):
        return None
    kind: BaseKind
    if text.startswith("oci-archive:"):
        kind, rest = "oci-archive", text[len("oci-archive:"):]
    elif text.startswith("oci:"):
        kind, rest = "oci", text[len("oci:"):]
    else:
        raise BaseImageError(
            f"base: {text[:80]!r} is not 'none', 'oci:PATH[:REF]' or 'oci-archive:PATH[:REF]'",
            hint="secpipe never pulls a base image from a registry; save it as an OCI layout "
                 "(skopeo copy docker://… oci:DIR:REF) or build one (docs/build-image.md)")
    ref: str | None = None
    head, sep, tail = rest.rpartition(":")
    if sep and head and "/" not in tail and _REF.match(tail):
        rest, ref = head, tail
    if not rest:
        raise BaseImageError(f"base: {text[:80]!r} names no path")
    path = Path(rest)
    if not path.is_absolute():
        path = project_root / path
    return BaseImage(kind=kind, path=path.resolve(), ref=ref)


def check_base(base: BaseImage, *, layers: bool = False, spool_dir: Path | None = None,
               cancel: threading.Event | None = None,
               max_bytes: int = MAX_BASE_BYTES) -> CheckedBase:
    """Open the base image with secpipe's own bounded reader; :class:`BaseImageError` (with the
    reader's message) when it is missing or malformed.

    With ``layers``, every layer is also read (digests and sizes verified, at most ``max_bytes``
    uncompressed, spooled under ``spool_dir``) and a layer holding a hostile member (a path out
    of the root, a symlink pointing out of it, a device file, a link to nothing) is refused
    before buildah unpacks it into its store.
    """
    from secpipe.images import layout
    from secpipe.images.layers import Limits, apply_layers

    if base.kind == "oci" and not base.path.is_dir():
        raise BaseImageError(f"base image: {base.path} is not a folder (an OCI layout)")
    if base.kind == "oci-archive" and not base.path.is_file():
        raise BaseImageError(f"base image: {base.path} is not a file (an oci-archive tar)")
    try:
        with layout.open_image(base.path, ref=base.ref) as image:
            if image.format == "docker-archive":
                raise BaseImageError(f"base image: {base.path} is a docker-archive; "
                                     "give an OCI layout or oci-archive")
            if layers:
                limits = Limits(max_total_bytes=max_bytes)
                with apply_layers(image, limits=limits, cancel=cancel,
                                  spool_dir=str(spool_dir) if spool_dir else None) as tree:
                    hostile = list(tree.hostile)
                if hostile:
                    shown = "; ".join(f"layer {h.layer} {h.name[:120]!r}: {h.reason}"
                                      for h in hostile[:3])
                    more = f" (and {len(hostile) - 3} more)" if len(hostile) > 3 else ""
                    raise BaseImageError(f"base image {base.transport}: {len(hostile)} hostile "
                                         f"layer member(s): {shown}{more}")
            return CheckedBase(image=base, manifest_digest=image.manifest_digest,
                               platform=image.config.platform, layers=len(image.layers))
    except layout.ImageError as exc:
        raise BaseImageError(f"base image {base.transport}: {exc.message}") from None
