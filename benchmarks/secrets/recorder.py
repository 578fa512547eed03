"""Collects labels for planted secrets and decoys while the corpus is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tokens as t
from layout import Item, locate


class Recorder:
    """Writes files and records a label for every planted item in them."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.secrets: list[dict[str, Any]] = []
        self.decoys: list[dict[str, Any]] = []

    def write(self, root: str, rel: str, text: str, items: list[Item], context: str) -> None:
        """Write ``text`` to ``out/root/rel`` and label ``items`` found in it."""
        path = self.out / root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.record(root, rel, text, items, context)

    def record(
        self,
        root: str,
        rel: str,
        text: str,
        items: list[Item],
        context: str,
        member: str | None = None,
        commits: list[str] | None = None,
    ) -> None:
        """Label ``items`` located in ``text`` (a file, an archive member or a commit's file)."""
        locate(text, items)
        for item in items:
            entry: dict[str, Any] = {
                "root": root,
                "path": rel,
                "line": item.line,
                "end_line": item.extra.get("end_line", item.end_line),
                "member": member,
                "commits": commits,
                "context": item.extra.get("context", context),
            }
            for key in ("cell", "part", "cell_line"):
                if key in item.extra:
                    entry[key] = item.extra[key]
            if item.kind:
                entry.update(
                    id=f"S{len(self.secrets) + 1:04d}",
                    kind=item.kind,
                    column=item.column,
                    length=len(item.needle),
                    written=item.written,
                    sha256=t.sha256_hex(item.value),
                )
                self.secrets.append(entry)
            else:
                entry.update(
                    id=f"D{len(self.decoys) + 1:04d}", category=item.category, note=item.note
                )
                self.decoys.append(entry)
