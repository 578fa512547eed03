"""A CycloneDX 1.6 SBOM (JSON, as a ``dict``) of an image's package inventory.

Every package is a ``library`` component with a package URL (purl) in the form scanners and
vulnerability databases use — ``pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12``,
``pkg:apk/alpine/…``, ``pkg:rpm/<distro id>/…`` (epoch as a qualifier), ``pkg:pypi/…``,
``pkg:npm/…`` — and the source package, locations and architecture as properties. The image is
the ``container`` metadata component (name: the reference, version: the manifest digest) and
depends on every package. The serial number derives from the digest, so the same image and
inventory give the same document (no timestamp unless one is passed).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from secpipe import __version__
from secpipe.images.pkg_model import APK, DEB, NPM, PYPI, RPM, Distro, Package

SPEC_VERSION = "1.6"
MEDIA_TYPE = "application/vnd.cyclonedx+json"
IMAGE_REF = "image"
_DEFAULT_NAMESPACE = {DEB: "debian", APK: "alpine", RPM: "redhat"}


def _enc(text: str) -> str:
    """Percent-encode a purl component (``:`` stays as it is, as the purl spec allows)."""
    return quote(text, safe="").replace("%3A", ":")


def purl(package: Package) -> str:
    """The package URL of ``package``."""
    qualifiers: dict[str, str] = {}
    namespace: str | None = None
    name, version = package.name, package.version
    if package.ecosystem in (DEB, APK, RPM):
        distro: Distro | None = package.distro
        namespace = distro.id if distro else _DEFAULT_NAMESPACE[package.ecosystem]
        if package.arch:
            qualifiers["arch"] = package.arch
        if distro:
            qualifiers["distro"] = distro.release
        if package.ecosystem == RPM and ":" in version:
            epoch, _, version = version.partition(":")
            qualifiers["epoch"] = epoch
        if package.ecosystem == RPM and package.source_name:
            source_version = (package.source_version or "").rpartition(":")[2]
            qualifiers["upstream"] = f"{package.source_name}-{source_version}.src.rpm"
        elif package.source_name and (package.source_name != package.name
                                      or package.source_version != package.version):
            upstream = package.source_name
            if package.source_version and package.source_version != package.version:
                upstream = f"{package.source_name}@{package.source_version}"
            qualifiers["upstream"] = upstream
    elif package.ecosystem == PYPI:
        name = name.lower().replace("_", "-")
    elif package.ecosystem == NPM:
        name = name.lower()
        if name.startswith("@") and "/" in name:
            namespace, _, name = name.partition("/")
    else:
        raise ValueError(f"unknown ecosystem {package.ecosystem!r}")
    text = f"pkg:{package.ecosystem}/"
    if namespace:
        text += _enc(namespace) + "/"
    text += f"{_enc(name)}@{_enc(version)}"
    if qualifiers:
        text += "?" + "&".join(f"{k}={_enc(v)}" for k, v in sorted(qualifiers.items()))
    return text


def _licences(text: str | None) -> list[dict[str, Any]] | None:
    if not text:
        return None
    if _is_spdx(text):
        return [{"expression": text}]
    return [{"license": {"name": text[:1000]}}]


@lru_cache(maxsize=1)
def _spdx_licensing() -> Any:
    """The SPDX licensing object (its symbol table and tokenizer cost ~40 ms to build: once)."""
    from license_expression import get_spdx_licensing  # type: ignore[import-untyped]

    return get_spdx_licensing()


@lru_cache(maxsize=4096)
def _is_spdx(text: str) -> bool:
    """Whether ``text`` is a valid SPDX licence expression (else it is kept as a name).

    Results are cached: an image's packages repeat a few dozen licence texts.
    """
    try:
        info = _spdx_licensing().validate(text, strict=True)
    except Exception:  # an expression the parser cannot take is free text, never dropped
        return False
    return not info.errors and not info.invalid_symbols


def _properties(package: Package) -> list[dict[str, str]]:
    props = [{"name": "secpipe:ecosystem", "value": package.ecosystem}]
    if package.source_name:
        props.append({"name": "secpipe:source-name", "value": package.source_name})
    if package.source_version:
        props.append({"name": "secpipe:source-version", "value": package.source_version})
    if package.arch:
        props.append({"name": "secpipe:arch", "value": package.arch})
    props.extend({"name": "secpipe:location", "value": where} for where in package.locations)
    return props


def _digest_hash(digest: str) -> list[dict[str, str]]:
    algorithm, _, hexdigest = digest.partition(":")
    if algorithm == "sha256" and len(hexdigest) == 64:
        return [{"alg": "SHA-256", "content": hexdigest.lower()}]
    return []


def cyclonedx(packages: Iterable[Package], image_ref: str, digest: str,
              timestamp: datetime | None = None) -> dict[str, Any]:
    """The CycloneDX 1.6 document listing ``packages`` of the image ``image_ref`` at ``digest``."""
    components: list[dict[str, Any]] = []
    refs: set[str] = set()
    distros: dict[str, Distro] = {}
    for package in sorted(packages, key=lambda p: (p.ecosystem, p.name, p.version,
                                                   p.arch or "", p.locations)):
        url = purl(package)
        ref, n = url, 1
        while ref in refs:
            n += 1
            ref = f"{url}#{n}"
        refs.add(ref)
        component: dict[str, Any] = {"type": "library", "bom-ref": ref, "name": package.name,
                                     "version": package.version, "purl": url}
        licences = _licences(package.licence)
        if licences:
            component["licenses"] = licences
        component["properties"] = _properties(package)
        components.append(component)
        if package.distro is not None:
            distros.setdefault(package.distro.release, package.distro)
    for release, distro in sorted(distros.items()):
        ref = f"os:{release}"
        refs.add(ref)
        os_component: dict[str, Any] = {"type": "operating-system", "bom-ref": ref,
                                        "name": distro.id}
        if distro.version_id:
            os_component["version"] = distro.version_id
        if distro.pretty_name:
            os_component["description"] = distro.pretty_name
        components.append(os_component)
    image: dict[str, Any] = {"type": "container", "bom-ref": IMAGE_REF, "name": image_ref,
                             "version": digest}
    hashes = _digest_hash(digest)
    if hashes:
        image["hashes"] = hashes
    metadata: dict[str, Any] = {
        "tools": {"components": [{"type": "application", "name": "secpipe",
                                  "version": __version__}]},
        "component": image,
    }
    if timestamp is not None:
        metadata["timestamp"] = timestamp.isoformat()
    serial = uuid.uuid5(uuid.NAMESPACE_URL, f"secpipe-image-sbom:{image_ref}@{digest}:"
                                            f"{len(components)}")
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{serial}",
        "version": 1,
        "metadata": metadata,
        "components": components,
        "dependencies": [{"ref": IMAGE_REF, "dependsOn": sorted(refs)}]
                        + [{"ref": ref} for ref in sorted(refs)],
    }
