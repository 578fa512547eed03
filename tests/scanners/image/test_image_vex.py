"""VEX documents: OpenVEX and CycloneDX parsing, product matching, bad documents."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from secpipe.core.errors import InputError
from secpipe.scanners.image import vex
from secpipe.scanners.image.vex import PackageKeys, VexError, decide, load_vex, parse_vex

LIBC = PackageKeys(purl="pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12",
                   names=("libc6", "glibc"), image=("sha256:" + "a" * 64,))


def openvex(*statements: dict[str, object]) -> dict[str, object]:
    return {"@context": "https://openvex.dev/ns/v0.2.0", "statements": list(statements)}


def test_openvex_statement_fields() -> None:
    (st,) = parse_vex(openvex({"vulnerability": {"name": "cve-2024-1", "aliases": ["GHSA-x"]},
                               "products": [{"@id": "pkg:deb/debian/libc6"}],
                               "status": "not_affected",
                               "justification": "component_not_present",
                               "impact_statement": "not built in"}), "v.json")
    assert st.ids == ("CVE-2024-1", "GHSA-X")
    assert st.status == vex.NOT_AFFECTED
    assert st.justification == "component_not_present not built in"
    assert st.document == "v.json"


@pytest.mark.parametrize(("product", "matches"), [
    ("pkg:deb/debian/libc6", True),                       # no version: every version
    ("pkg:deb/debian/libc6@2.36-9", True),                # qualifiers ignored
    ("pkg:deb/debian/libc6@2.36-8", False),
    ("pkg:deb/debian/libc6-dev", False),
    ("glibc", True),                                       # the source package's name
    ("sha256:" + "a" * 64, True),                          # the image itself
    ("sha256:" + "b" * 64, False),
])
def test_product_matching(product: str, matches: bool) -> None:
    assert vex.product_matches(product, LIBC) is matches


def test_subcomponents_narrow_an_image_product() -> None:
    doc = openvex({"vulnerability": {"name": "CVE-2024-1"},
                   "products": [{"@id": "sha256:" + "a" * 64,
                                 "subcomponents": [{"@id": "pkg:deb/debian/openssl"}]}],
                   "status": "not_affected"})
    statements = parse_vex(doc)
    assert decide(statements, ["CVE-2024-1"], LIBC) is None
    openssl = PackageKeys(purl="pkg:deb/debian/openssl@3", names=("openssl",))
    assert decide(statements, ["CVE-2024-1"], openssl) is not None


def test_last_statement_wins() -> None:
    statements = parse_vex(openvex(
        {"vulnerability": "CVE-2024-1", "products": ["glibc"], "status": "not_affected"},
        {"vulnerability": "CVE-2024-1", "products": ["glibc"], "status": "affected"}))
    chosen = decide(statements, ["cve-2024-1"], LIBC)
    assert chosen is not None and chosen.status == vex.AFFECTED


def test_cyclonedx_states_and_refs() -> None:
    doc = {"bomFormat": "CycloneDX", "components": [{"bom-ref": "r1", "purl": "pkg:npm/x@1"}],
           "vulnerabilities": [
               {"id": "CVE-1", "analysis": {"state": "false_positive"}, "affects": [{"ref": "r1"}]},
               {"id": "CVE-2", "analysis": {"state": "exploitable"}, "affects": [{"ref": "y"}]},
               {"id": "CVE-3", "analysis": {"state": "resolved_with_pedigree"},
                "affects": [{"ref": "z"}]}]}
    got = [(s.ids[0], s.products, s.status) for s in parse_vex(doc)]
    assert got == [("CVE-1", ("pkg:npm/x@1",), vex.NOT_AFFECTED),
                   ("CVE-2", ("y",), vex.AFFECTED), ("CVE-3", ("z",), vex.FIXED)]


@pytest.mark.parametrize("doc", [
    [], {"statements": [{"products": ["x"], "status": "not_affected"}]},
    {"statements": [{"vulnerability": "CVE-1", "products": ["x"], "status": "maybe"}]},
    {"statements": [{"vulnerability": "CVE-1", "products": [], "status": "fixed"}]},
    {"bomFormat": "CycloneDX", "vulnerabilities": [{"id": "CVE-1", "affects": [{"ref": "a"}]}]},
    {"bomFormat": "CycloneDX", "vulnerabilities": [{"id": "CVE-1",
                                                    "analysis": {"state": "not_affected"}}]},
    {"something": "else"},
])
def test_bad_documents_are_vex_errors(doc: object) -> None:
    with pytest.raises(VexError) as info:
        parse_vex(doc, "x.json")
    assert isinstance(info.value, InputError) and "x.json" in info.value.message


def test_files_are_read_bounded_and_not_through_links(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    good = tmp_path / "v.json"
    good.write_text(json.dumps(openvex({"vulnerability": "CVE-1", "products": ["x"],
                                        "status": "fixed"})))
    assert len(load_vex([good])) == 1
    link = tmp_path / "link.json"
    os.symlink(good, link)
    with pytest.raises(VexError, match=r"link\.json"):
        load_vex([link])
    with pytest.raises(VexError, match=r"missing\.json"):
        load_vex([tmp_path / "missing.json"])
    monkeypatch.setattr(vex, "MAX_VEX_BYTES", 10)
    with pytest.raises(VexError, match="larger than"):
        load_vex([good])
    (tmp_path / "deep.json").write_text("[" * 100_000)
    monkeypatch.setattr(vex, "MAX_VEX_BYTES", 1 << 20)
    with pytest.raises(VexError, match="not JSON"):
        load_vex([tmp_path / "deep.json"])
