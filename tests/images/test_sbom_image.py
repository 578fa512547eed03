"""CycloneDX 1.6 SBOM of an image inventory: purls, licences, schema validity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_inventory import debian_fs
from test_inventory_fs import DictFs, rpm_package, rpmdb_sqlite

from secpipe.images.inventory import APK, DEB, NPM, PYPI, RPM, Distro, Package, inventory
from secpipe.images.sbom import cyclonedx, purl

DIGEST = "sha256:" + "ab" * 32
DEBIAN = Distro("debian", "12", "bookworm")


def _validator() -> object:
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    cyclonedx_lib = pytest.importorskip("cyclonedx")
    res = Path(cyclonedx_lib.__file__).parent / "schema" / "_res"
    if not (res / "bom-1.6.SNAPSHOT.schema.json").is_file():
        pytest.skip("no offline CycloneDX 1.6 schema")
    base = "http://cyclonedx.org/schema/"
    resources = []
    for name in ("spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json",
                 "cryptography-defs.SNAPSHOT.schema.json"):
        if (res / name).is_file():
            doc = json.loads((res / name).read_text())
            resources.append((base + name, referencing.Resource.from_contents(
                doc, default_specification=referencing.jsonschema.DRAFT7)))
    schema = json.loads((res / "bom-1.6.SNAPSHOT.schema.json").read_text())
    registry = referencing.Registry().with_resources(resources)
    return jsonschema.Draft7Validator(schema, registry=registry)


def test_purls_per_ecosystem() -> None:
    alpine = Distro("alpine", "3.20.3")
    fedora = Distro("fedora", "40")
    assert purl(Package(DEB, "libc6", "2.36-9+deb12u4", "glibc", "2.36-9+deb12u4", "amd64",
                        DEBIAN)) == ("pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64"
                                     "&distro=debian-12&upstream=glibc")
    assert purl(Package(DEB, "libssl3", "3.0.11-1~deb12u2+b1", "openssl", "3.0.11-1~deb12u2",
                        "amd64", DEBIAN)).endswith("&upstream=openssl%403.0.11-1~deb12u2")
    assert purl(Package(DEB, "bsdutils", "1:2.38.1-5+b1", None, None, None, None)) == \
        "pkg:deb/debian/bsdutils@1:2.38.1-5%2Bb1"
    assert purl(Package(APK, "libcrypto3", "3.3.2-r0", "openssl", "3.3.2-r0", "x86_64",
                        alpine)) == ("pkg:apk/alpine/libcrypto3@3.3.2-r0?arch=x86_64"
                                     "&distro=alpine-3.20.3&upstream=openssl")
    assert purl(Package(RPM, "openssl-libs", "1:3.2.2-3.fc40", "openssl", "1:3.2.2-3.fc40",
                        "x86_64", fedora)) == (
        "pkg:rpm/fedora/openssl-libs@3.2.2-3.fc40?arch=x86_64&distro=fedora-40&epoch=1"
        "&upstream=openssl-3.2.2-3.fc40.src.rpm")
    assert purl(Package(PYPI, "Typing_Extensions", "4.12.2")) == \
        "pkg:pypi/typing-extensions@4.12.2"
    assert purl(Package(NPM, "@babel/core", "7.24.0")) == "pkg:npm/%40babel/core@7.24.0"


def test_purls_parse_back_with_packageurl() -> None:
    packageurl = pytest.importorskip("packageurl")
    url = purl(Package(DEB, "libssl3", "1:3.0.11-1~deb12u2+b1", "openssl", "3.0.11-1~deb12u2",
                       "amd64", DEBIAN))
    parsed = packageurl.PackageURL.from_string(url)
    assert (parsed.type, parsed.namespace, parsed.name, parsed.version) == (
        "deb", "debian", "libssl3", "1:3.0.11-1~deb12u2+b1")
    assert parsed.qualifiers == {"arch": "amd64", "distro": "debian-12",
                                 "upstream": "openssl@3.0.11-1~deb12u2"}
    scoped = packageurl.PackageURL.from_string(purl(Package(NPM, "@types/node", "20.1.0")))
    assert (scoped.namespace, scoped.name) == ("@types", "node")


def test_sbom_of_a_real_inventory_is_valid_cyclonedx_1_6(tmp_path: Path) -> None:
    fs = debian_fs(**{
        "/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA":
            b"Name: six\nVersion: 1.16.0\nLicense: MIT\n",
        "/app/node_modules/left-pad/package.json": b'{"name":"left-pad","version":"1.3.0",'
                                                   b'"license":"WTFPL"}',
        "/opt/other/node_modules/left-pad/package.json": b'{"name":"left-pad",'
                                                         b'"version":"1.3.0"}',
    })
    packages = inventory(fs).packages
    doc = cyclonedx(packages, "registry.local/app:1", DIGEST)
    _validator().validate(doc)  # type: ignore[attr-defined]
    assert doc["specVersion"] == "1.6" and doc["bomFormat"] == "CycloneDX"
    image = doc["metadata"]["component"]
    assert (image["type"], image["name"], image["version"]) == (
        "container", "registry.local/app:1", DIGEST)
    assert image["hashes"] == [{"alg": "SHA-256", "content": "ab" * 32}]
    libraries = [c for c in doc["components"] if c["type"] == "library"]
    assert len(libraries) == len(packages) == 7
    assert sum(c["name"] == "left-pad" for c in libraries) == 2
    refs = [c["bom-ref"] for c in doc["components"]]
    assert len(set(refs)) == len(refs)  # the two left-pad copies get distinct refs
    os_part = [c for c in doc["components"] if c["type"] == "operating-system"]
    assert os_part == [{"type": "operating-system", "bom-ref": "os:debian-12", "name": "debian",
                        "version": "12", "description": "Debian GNU/Linux 12 (bookworm)"}]
    libc = next(c for c in libraries if c["name"] == "libc6")
    assert libc["licenses"] == [{"license": {"name": "LGPL-2.1-or-later AND GPL-2+"}}]
    six = next(c for c in libraries if c["name"] == "six")
    assert six["licenses"] == [{"expression": "MIT"}]
    assert {"name": "secpipe:source-name", "value": "glibc"} in libc["properties"]
    assert set(doc["dependencies"][0]["dependsOn"]) == set(refs)
    assert cyclonedx(packages, "registry.local/app:1", DIGEST) == doc  # deterministic


def test_sbom_rpm_and_apk_validate(tmp_path: Path) -> None:
    fs = DictFs({"/etc/os-release": b"ID=fedora\nVERSION_ID=40\n",
                 "/var/lib/rpm/rpmdb.sqlite": rpmdb_sqlite(
                     tmp_path, [rpm_package("bash", "5.2", "1.fc40", epoch=2,
                                            licence="GPL-3.0-or-later")])})
    doc = cyclonedx(inventory(fs).packages, "x", "sha256:short")
    _validator().validate(doc)  # type: ignore[attr-defined]
    assert doc["components"][0]["purl"] == (
        "pkg:rpm/fedora/bash@5.2-1.fc40?arch=x86_64&distro=fedora-40&epoch=2"
        "&upstream=bash-5.2-1.fc40.src.rpm")
    assert "hashes" not in doc["metadata"]["component"]
    apk = [Package(APK, "musl", "1.2.5-r0", "musl", "1.2.5-r0", "x86_64",
                   Distro("alpine", "3.20.3"), ("/lib/apk/db/installed",), "MIT")]
    doc = cyclonedx(apk, "alpine:3.20", DIGEST)
    _validator().validate(doc)  # type: ignore[attr-defined]
    assert doc["components"][0]["purl"] == \
        "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3"


def test_empty_inventory_is_still_a_valid_document() -> None:
    doc = cyclonedx([], "scratch", DIGEST)
    _validator().validate(doc)  # type: ignore[attr-defined]
    assert doc["components"] == []


def test_unknown_ecosystem_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown ecosystem"):
        purl(Package("gem", "rails", "7"))


def test_licence_expressions_are_parsed_once_per_text() -> None:
    from secpipe.images import sbom

    sbom._is_spdx.cache_clear()
    texts = ("GPL-2.0-or-later AND MIT", "Apache-2.0 OR MIT", "public domain (see x)")
    packages = [Package(DEB, f"p{i}", "1", licence=text) for i in range(300) for text in texts]
    doc = cyclonedx(packages, "img", DIGEST)
    info = sbom._is_spdx.cache_info()
    assert (info.misses, info.hits) == (3, 897)  # one parse per distinct text
    assert sbom._spdx_licensing.cache_info().currsize == 1  # the licensing object: built once
    by_text: dict[str, bool] = {}
    for component in doc["components"]:
        [licence] = component["licenses"]
        by_text[json.dumps(licence)] = True
    assert sorted(by_text) == sorted(json.dumps(x) for x in (
        {"expression": "GPL-2.0-or-later AND MIT"}, {"expression": "Apache-2.0 OR MIT"},
        {"license": {"name": "public domain (see x)"}}))
