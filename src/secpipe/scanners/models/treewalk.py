"""One bounded walk over parsed configuration data (JSON, YAML): every mapping it holds.

Used by the Keras config check and the config-instantiation check, so both stop at the same kind
of bound and say so: hitting it is a ``models.scan-incomplete`` finding, never a silent pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from secpipe.scanners.models.report import Collector, Where

MAX_DEPTH = 256
"""Deepest nesting walked."""


def mappings(data: object, where: Where, coll: Collector, what: str,
             max_nodes: int) -> Iterator[dict[Any, Any]]:
    """Every dict inside ``data`` (iteratively, at most ``max_nodes`` nodes and
    :data:`MAX_DEPTH` levels; past either, ``what`` is reported incomplete and the walk ends)."""
    stack: list[tuple[object, int]] = [(data, 0)]
    seen = 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > max_nodes or depth > MAX_DEPTH:
            coll.incomplete(where, f"{what} too large or too deeply nested")
            return
        if isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
        elif isinstance(node, dict):
            yield node
            stack.extend((v, depth + 1) for v in node.values())
