"""Container image references: their parts, whether they are pinned, and which bases run as a
non-root user by default.

:data:`NONROOT_BASES` is the one list of base images whose *default* user is not root, so that a
Dockerfile built on them without a ``USER`` instruction is not reported as running as root. It is
kept deliberately small (a wrong entry hides a real finding); each entry names where the fact comes
from:

- ``gcr.io/distroless/*`` with a ``nonroot`` tag (``:nonroot``, ``:debug-nonroot``,
  ``:latest-nonroot``): the ``nonroot`` variants set uid 65532 (distroless README);
- ``cgr.dev/chainguard/*``: Chainguard images run as ``nonroot`` (65532) by default, except the
  ``-dev`` variants and the base images ``wolfi-base``/``chainguard-base``/``static`` used to
  build others, which are left out here;
- ``bitnami/*`` (also ``docker.io/bitnami/*``): Bitnami's non-root images run as uid 1001, except
  ``bitnami/minideb`` (a plain Debian base);
- ``nginxinc/nginx-unprivileged``: runs nginx as uid 101;
- any tag containing ``rootless`` (``docker:dind-rootless``, ``gitea/gitea:1.21-rootless``);
- ``mcr.microsoft.com/dotnet/*`` with a ``chiseled`` tag (runs as the ``app`` user) and
  ``mcr.microsoft.com/windows/nanoserver`` (``ContainerUser``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIGEST = re.compile(r"@[A-Za-z0-9_+.-]+:[A-Fa-f0-9]{32,}$")


@dataclass(frozen=True)
class ImageRef:
    """An image reference split into its parts."""

    name: str
    """Registry and repository, lower-cased, without ``docker.io/`` or ``library/``."""
    tag: str
    """The tag ('' when none)."""
    digest: str
    """The ``@sha256:…`` digest ('' when none)."""

    @property
    def pinned(self) -> bool:
        """A digest, or a tag other than ``latest``."""
        return bool(self.digest) or (bool(self.tag) and self.tag.lower() != "latest")


def parse_image(ref: str) -> ImageRef:
    """Split ``registry/repo:tag@sha256:…`` (any part but the repository optional)."""
    ref = ref.strip()
    digest = ""
    match = _DIGEST.search(ref)
    if match:
        digest = match.group(0)[1:]
        ref = ref[: match.start()]
    elif "@" in ref:
        ref, digest = ref.split("@", 1)
    tag = ""
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        ref, tag = ref[:colon], ref[colon + 1:]
    name = ref.lower()
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    if name.startswith("library/"):
        name = name[len("library/"):]
    return ImageRef(name=name, tag=tag, digest=digest)


def runs_nonroot_by_default(image: ImageRef) -> bool:
    """True for the base images of :data:`NONROOT_BASES` (see the module docstring)."""
    name, tag = image.name, image.tag.lower()
    if "rootless" in tag:
        return True
    if name.startswith("gcr.io/distroless/"):
        return "nonroot" in tag
    if name.startswith("cgr.dev/chainguard/"):
        last = name.rsplit("/", 1)[-1]
        return last not in ("wolfi-base", "chainguard-base", "static", "busybox") and \
            "-dev" not in tag and tag != "dev"
    if name.startswith("bitnami/"):
        return name != "bitnami/minideb"
    if name == "nginxinc/nginx-unprivileged":
        return True
    if name.startswith("mcr.microsoft.com/dotnet/"):
        return "chiseled" in tag
    return name == "mcr.microsoft.com/windows/nanoserver"


NONROOT_BASES = ("gcr.io/distroless/*:*nonroot*", "cgr.dev/chainguard/* (not -dev, wolfi-base, "
                 "chainguard-base, static, busybox)", "bitnami/* (not minideb)",
                 "nginxinc/nginx-unprivileged", "*:*rootless*",
                 "mcr.microsoft.com/dotnet/*:*chiseled*", "mcr.microsoft.com/windows/nanoserver")
"""The list :func:`runs_nonroot_by_default` implements, for docs and messages."""
