"""The Terraform model the rules read: resources with resolved attribute values and lines.

:mod:`.loader` builds a :class:`TfModel` from ``.tf``/``.tf.json`` files (a root module and the
local modules it calls), ``terraform.tfvars``/``*.auto.tfvars`` and variable defaults, or from a
``terraform show -json`` plan. Rules (``rules_*.py``) are functions ``check(model) -> hits``.

Values in :attr:`TfBlock.attrs` are plain Python data (str, int, float, bool, list, dict) where
the loader could compute them, :class:`~secpipe.scanners.iac.model.Unresolved` where it could not,
and :class:`~secpipe.scanners.iac.model.Ref` for a reference to another resource. A nested block
(``ingress { … }``, ``versioning { … }``) is a list of :class:`TfBlock` under its name, one per
occurrence (``dynamic`` blocks expanded when their ``for_each`` is static, else one block whose
attributes are unresolved).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from secpipe.scanners.iac.model import Ref, Unresolved


@dataclass
class TfBlock:
    """A resource body or a nested block."""

    attrs: dict[str, Any]
    """Attribute name -> value; nested block name -> list[TfBlock]."""
    line: int | None
    """First line (the block's header)."""
    end_line: int | None
    """Last line (closing brace)."""
    lines: dict[str, int] = field(default_factory=dict)
    """Attribute or nested block name -> its line."""

    def get(self, name: str, default: Any = None) -> Any:
        """The attribute's value (a nested block name gives its list of blocks)."""
        return self.attrs.get(name, default)

    def has(self, name: str) -> bool:
        """True when the attribute or block is written (even if its value is unresolved)."""
        return name in self.attrs

    def blocks(self, name: str) -> list[TfBlock]:
        """The nested blocks called ``name`` (empty when none)."""
        value = self.attrs.get(name)
        if isinstance(value, list):
            return [b for b in value if isinstance(b, TfBlock)]
        return []

    def block(self, name: str) -> TfBlock | None:
        """The first nested block called ``name``."""
        found = self.blocks(name)
        return found[0] if found else None

    def line_of(self, name: str) -> int | None:
        """The line of an attribute or nested block, else the block's own line."""
        return self.lines.get(name, self.line)


@dataclass
class TfResource:
    """One resource (or data source) instance."""

    mode: str
    """``resource`` or ``data``."""
    type: str
    """``aws_s3_bucket``."""
    name: str
    """The local name (``data``)."""
    address: str
    """Full address: ``module.store.aws_s3_bucket.data["logs"]``; ``[0]`` suffix only when
    ``count``/``for_each`` is used."""
    module: str
    """Module address prefix (``""`` for the root, ``module.store``)."""
    path: str
    """Project-relative file where the block is written."""
    body: TfBlock
    """Its attributes and nested blocks."""
    base_address: str = ""
    """The address without the instance key (``module.store.aws_s3_bucket.data``): what a
    :class:`~secpipe.scanners.iac.model.Ref` names."""

    def __post_init__(self) -> None:
        if not self.base_address:
            self.base_address = re.sub(r"\[[^\]]*\]$", "", self.address)

    @property
    def line(self) -> int | None:
        return self.body.line

    @property
    def block(self) -> tuple[int, int] | None:
        """First and last line, for :attr:`IacHit.block`."""
        if self.body.line is None:
            return None
        return (self.body.line, self.body.end_line or self.body.line)


@dataclass
class TfModel:
    """Every resource of a root module and the local modules it calls, plus provider blocks."""

    resources: list[TfResource] = field(default_factory=list)
    providers: list[tuple[str, str, TfBlock]] = field(default_factory=list)
    """(provider name, file, body) of every ``provider`` block (``default_tags``, region)."""
    root: str = ""
    """Project-relative folder of the root module (``.`` for the project root); a plan's file."""

    def of_type(self, *types: str) -> list[TfResource]:
        """Managed resources (not data sources) of any of ``types``, in file order."""
        return [r for r in self.resources if r.mode == "resource" and r.type in types]

    def referencing(self, target: TfResource, types: Iterable[str],
                    attribute: str = "bucket") -> list[TfResource]:
        """Resources of ``types`` whose ``attribute`` points at ``target``: a :class:`Ref` to
        its address, or a literal equal to ``target``'s own value of ``attribute`` (a bucket
        named by its literal name) — in the same module."""
        wanted = set(types)
        own = target.body.get(attribute)
        out: list[TfResource] = []
        for r in self.resources:
            if r.type not in wanted or r.module != target.module or r.mode != "resource":
                continue
            value = r.body.get(attribute)
            by_ref = isinstance(value, Ref) and value.address == target.base_address
            by_name = isinstance(own, str) and isinstance(value, str) and value == own
            if by_ref or by_name:
                out.append(r)
        return out


def is_unresolved(value: Any) -> bool:
    """True for a value (or a list holding one) the loader could not compute."""
    if isinstance(value, Unresolved):
        return True
    if isinstance(value, list):
        return any(is_unresolved(v) for v in value)
    return False
