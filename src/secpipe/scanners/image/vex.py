"""VEX documents: statements that a vulnerability does or does not affect a product.

Two formats are read, as JSON, bounded, never executed:

* **OpenVEX** (``@context`` ``https://openvex.dev/ns…``): ``statements[]`` with
  ``vulnerability`` (``name``/``@id`` and ``aliases``), ``products[]`` (``@id`` and
  ``identifiers.purl``, each with optional ``subcomponents[]``), ``status``
  (``not_affected``, ``affected``, ``fixed``, ``under_investigation``), ``justification`` and
  ``impact_statement``.
* **CycloneDX VEX** (``bomFormat: CycloneDX`` with ``vulnerabilities[]``): ``id``,
  ``analysis.state`` (``not_affected`` and ``false_positive`` read as not affected,
  ``resolved``/``resolved_with_pedigree`` as fixed, ``exploitable`` as affected, ``in_triage``
  as under investigation), ``analysis.justification``/``detail``, ``affects[].ref`` (a purl,
  or a ``bom-ref`` resolved through the document's ``components``).

:func:`decide` answers, for one vulnerability of one package, the statement that applies. A
product matches a package when it is the package's purl (qualifiers ignored; a purl without a
version matches every version), its plain name (binary or source package), or the image itself
(a ``pkg:oci`` purl or the image digest) without subcomponents; when a product lists
subcomponents, those are what must match. The last matching statement of the last document
wins (OpenVEX's "the newest statement" with documents given oldest first).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from secpipe.core.errors import InputError

MAX_VEX_BYTES = 16 << 20
"""Largest VEX document read."""
MAX_STATEMENTS = 200_000
"""Most statements read from all documents together."""

NOT_AFFECTED = "not_affected"
AFFECTED = "affected"
FIXED = "fixed"
UNDER_INVESTIGATION = "under_investigation"
STATUSES = (NOT_AFFECTED, AFFECTED, FIXED, UNDER_INVESTIGATION)
SUPPRESSING = frozenset({NOT_AFFECTED, FIXED})
"""Statuses that remove a finding before the gate."""

_CDX_STATES = {
    "not_affected": NOT_AFFECTED, "false_positive": NOT_AFFECTED,
    "resolved": FIXED, "resolved_with_pedigree": FIXED,
    "exploitable": AFFECTED, "in_triage": UNDER_INVESTIGATION,
}


class VexError(InputError):
    """A VEX document that cannot be read (missing, too large, not JSON, not OpenVEX or
    CycloneDX, a statement without a vulnerability or a status)."""


@dataclass(frozen=True)
class VexStatement:
    """One statement: ``status`` of the vulnerabilities ``ids`` for ``products``."""

    ids: tuple[str, ...]
    """The vulnerability id and its aliases (upper case)."""
    products: tuple[str, ...]
    """Product identifiers the statement is about (purls, names, digests); subcomponents
    when the product listed them."""
    status: str
    """One of :data:`STATUSES`."""
    justification: str
    """The justification and impact statement (or CycloneDX detail), for the report."""
    document: str
    """The file the statement came from."""


@dataclass(frozen=True)
class PackageKeys:
    """What a VEX product may name for one finding's package."""

    purl: str
    names: tuple[str, ...]
    image: tuple[str, ...] = ()
    """Identifiers of the image itself (manifest digest, ``pkg:oci`` purls)."""


def load_vex(paths: Sequence[Path]) -> list[VexStatement]:
    """The statements of every document in ``paths`` (in order). Raises :class:`VexError`."""
    out: list[VexStatement] = []
    for path in paths:
        out.extend(parse_vex(_read(path), str(path)))
        if len(out) > MAX_STATEMENTS:
            raise VexError(f"more than {MAX_STATEMENTS} VEX statements")
    return out


def _read(path: Path) -> Any:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise VexError(f"vex: {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise VexError(f"vex: {path}: not a regular file")
        data = fh.read(MAX_VEX_BYTES + 1)
    if len(data) > MAX_VEX_BYTES:
        raise VexError(f"vex: {path}: larger than {MAX_VEX_BYTES} bytes")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise VexError(f"vex: {path}: not JSON ({exc})") from None


def parse_vex(doc: Any, name: str = "<vex>") -> list[VexStatement]:
    """The statements of one parsed document (OpenVEX or CycloneDX)."""
    if not isinstance(doc, dict):
        raise VexError(f"vex: {name}: not a JSON object")
    if isinstance(doc.get("statements"), list):
        return _openvex(doc, name)
    if doc.get("bomFormat") == "CycloneDX" and isinstance(doc.get("vulnerabilities"), list):
        return _cyclonedx(doc, name)
    raise VexError(f"vex: {name}: neither OpenVEX (statements) nor CycloneDX VEX "
                   "(vulnerabilities)")


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _product_ids(product: Any) -> list[str]:
    if isinstance(product, str):
        return [product.strip()] if product.strip() else []
    if not isinstance(product, dict):
        return []
    ids = [_str(product.get("@id")), _str(product.get("id"))]
    identifiers = product.get("identifiers")
    if isinstance(identifiers, dict):
        ids.extend(_str(v) for v in identifiers.values())
    return [i for i in ids if i]


def _openvex(doc: Mapping[str, Any], name: str) -> list[VexStatement]:
    out: list[VexStatement] = []
    for n, raw in enumerate(doc["statements"], 1):
        if len(out) > MAX_STATEMENTS:
            raise VexError(f"vex: {name}: more than {MAX_STATEMENTS} statements")
        where = f"vex: {name}: statement {n}"
        if not isinstance(raw, dict):
            raise VexError(f"{where}: not an object")
        vuln = raw.get("vulnerability")
        ids: list[str] = []
        if isinstance(vuln, dict):
            ids = [_str(vuln.get("name")), _str(vuln.get("@id"))]
            aliases = vuln.get("aliases")
            if isinstance(aliases, list):
                ids.extend(_str(a) for a in aliases)
        elif isinstance(vuln, str):
            ids = [vuln]
        ids = [i.upper() for i in ids if i]
        if not ids:
            raise VexError(f"{where}: no vulnerability")
        status = _str(raw.get("status")).lower()
        if status not in STATUSES:
            raise VexError(f"{where}: status {status!r} is not one of {', '.join(STATUSES)}")
        products: list[str] = []
        for product in raw.get("products") or ():
            subs = product.get("subcomponents") if isinstance(product, dict) else None
            if isinstance(subs, list) and subs:
                for sub in subs:
                    products.extend(_product_ids(sub))
            else:
                products.extend(_product_ids(product))
        if not products:
            raise VexError(f"{where}: no product")
        why = " ".join(t for t in (_str(raw.get("justification")),
                                   _str(raw.get("impact_statement")),
                                   _str(raw.get("action_statement"))) if t)
        out.append(VexStatement(tuple(dict.fromkeys(ids)), tuple(dict.fromkeys(products)),
                                status, why, name))
    return out


def _cyclonedx(doc: Mapping[str, Any], name: str) -> list[VexStatement]:
    refs: dict[str, str] = {}
    components = doc.get("components")
    if isinstance(components, list):
        for comp in components:
            if isinstance(comp, dict) and _str(comp.get("bom-ref")) and _str(comp.get("purl")):
                refs[_str(comp.get("bom-ref"))] = _str(comp.get("purl"))
    out: list[VexStatement] = []
    for n, raw in enumerate(doc["vulnerabilities"], 1):
        if len(out) > MAX_STATEMENTS:
            raise VexError(f"vex: {name}: more than {MAX_STATEMENTS} statements")
        where = f"vex: {name}: vulnerability {n}"
        if not isinstance(raw, dict) or not _str(raw.get("id")):
            raise VexError(f"{where}: no id")
        ids = [_str(raw.get("id")).upper()]
        for ref in raw.get("references") or ():
            if isinstance(ref, dict) and _str(ref.get("id")):
                ids.append(_str(ref.get("id")).upper())
        analysis = raw.get("analysis")
        state = _str(analysis.get("state")).lower() if isinstance(analysis, dict) else ""
        status = _CDX_STATES.get(state)
        if status is None:
            raise VexError(f"{where}: analysis.state {state!r} is not a VEX state")
        products: list[str] = []
        for affect in raw.get("affects") or ():
            ref = _str(affect.get("ref")) if isinstance(affect, dict) else ""
            if ref:
                products.append(refs.get(ref, ref))
        if not products:
            raise VexError(f"{where}: no affects[].ref")
        assert isinstance(analysis, dict)
        why = " ".join(t for t in (_str(analysis.get("justification")),
                                   _str(analysis.get("detail"))) if t)
        out.append(VexStatement(tuple(dict.fromkeys(ids)), tuple(dict.fromkeys(products)),
                                status, why, name))
    return out


def _purl_base(text: str) -> tuple[str, str]:
    """``(type/namespace/name, version)`` of a purl, lower-cased, qualifiers dropped."""
    body = text.split("#", 1)[0].split("?", 1)[0]
    base, _, version = body.partition("@")
    return unquote(base).lower(), unquote(version)


def product_matches(product: str, keys: PackageKeys) -> bool:
    """Whether the product identifier ``product`` names the package ``keys`` describes (or
    the image as a whole)."""
    if product in keys.image or any(product.split("?", 1)[0] == i.split("?", 1)[0]
                                    for i in keys.image if i.startswith("pkg:")):
        return True
    if product.startswith("pkg:"):
        if not keys.purl:
            return False
        want_base, want_version = _purl_base(product)
        have_base, have_version = _purl_base(keys.purl)
        return want_base == have_base and (not want_version or want_version == have_version)
    return product.lower() in {n.lower() for n in keys.names}


def decide(statements: Iterable[VexStatement], ids: Iterable[str],
           keys: PackageKeys) -> VexStatement | None:
    """The statement that applies to a vulnerability (any of ``ids``) of the package
    ``keys`` describes: the last one that names an id and a matching product."""
    wanted = {i.upper() for i in ids}
    chosen: VexStatement | None = None
    for statement in statements:
        if wanted.isdisjoint(statement.ids):
            continue
        if any(product_matches(p, keys) for p in statement.products):
            chosen = statement
    return chosen
