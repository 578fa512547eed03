"""A CycloneDX 1.6 SBOM / AI-BOM per run (with ``cyclonedx-python-lib``).

It lists the project's software dependencies (pinned lines of ``requirements*.txt`` at the project
root, read as text — nothing is installed or imported) and the ML components: the model's files
as a ``machine-learning-model`` component and every training dataset as a ``data`` component, each
with its SHA-256. The ``sign`` step writes it beside the signature and binds its digest into the
signed attestation, so it is stored and verified with the model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from secpipe import __version__
from secpipe.core.errors import ConfigError

SBOM_NAME = "sbom.cdx.json"
SBOM_MEDIA_TYPE = "application/vnd.cyclonedx+json"
MAX_REQUIREMENTS_BYTES = 1 << 20
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*==\s*([A-Za-z0-9.+!_-]+)")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def read_requirements(project_root: Path) -> list[tuple[str, str | None, str]]:
    """(name, pinned version or None, file) for each requirement line at the project root."""
    found: dict[str, tuple[str, str | None, str]] = {}
    for path in sorted(project_root.glob("requirements*.txt")):
        if not path.is_file() or path.stat().st_size > MAX_REQUIREMENTS_BYTES:
            continue
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line or line.startswith("-"):
                continue
            pinned = _PIN.match(line)
            named = pinned or _NAME.match(line)
            if named is None:
                continue
            name = named.group(1).lower().replace("_", "-")
            version = pinned.group(2) if pinned else None
            if name not in found or (version and not found[name][1]):
                found[name] = (name, version, path.name)
    return [found[k] for k in sorted(found)]


def build_sbom(project_root: Path, project_name: str, run_id: str,
               model_files: Mapping[str, str], datasets: Mapping[str, str]) -> bytes:
    """The CycloneDX 1.6 JSON document."""
    try:
        from cyclonedx.model import HashAlgorithm, HashType, Property
        from cyclonedx.model.bom import Bom
        from cyclonedx.model.component import Component, ComponentType
        from cyclonedx.output.json import JsonV1Dot6
        from packageurl import PackageURL
    except ImportError:
        raise ConfigError("SBOMs need the 'cyclonedx-python-lib' package",
                          hint="pip install 'secpipe[provenance]'") from None

    def sha256(hexdigest: str) -> HashType:
        return HashType(alg=HashAlgorithm.SHA_256, content=hexdigest)

    bom = Bom()
    bom.metadata.component = Component(name=project_name, type=ComponentType.APPLICATION,
                                       bom_ref=f"project:{project_name}")
    bom.metadata.properties.add(Property(name="secpipe:run-id", value=run_id))
    bom.metadata.properties.add(Property(name="secpipe:version", value=__version__))
    for name, version, source in read_requirements(project_root):
        purl = PackageURL(type="pypi", name=name, version=version)
        bom.components.add(Component(
            name=name, version=version, type=ComponentType.LIBRARY, purl=purl,
            bom_ref=f"pypi:{name}", properties=[Property(name="secpipe:source", value=source)]))
    for name, digest in sorted(model_files.items()):
        bom.components.add(Component(name=name, type=ComponentType.MACHINE_LEARNING_MODEL,
                                     hashes=[sha256(digest)], bom_ref=f"model:{name}"))
    for name, digest in sorted(datasets.items()):
        bom.components.add(Component(name=name, type=ComponentType.DATA,
                                     hashes=[sha256(digest)], bom_ref=f"data:{name}"))
    bom.register_dependency(bom.metadata.component, list(bom.components))
    return JsonV1Dot6(bom).output_as_string(indent=2).encode("utf-8")
