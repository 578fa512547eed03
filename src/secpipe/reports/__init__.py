"""Reports rendered from a recorded run: one module per format, one registry of formats."""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from secpipe.runstore.records import RunRecord


def _lazy(module: str) -> Callable[[RunRecord], str]:
    """A renderer that imports its module on first use (the CLI starts faster)."""

    def render(run: RunRecord) -> str:
        renderer: Callable[[RunRecord], str] = importlib.import_module(
            f"secpipe.reports.{module}").render
        return renderer(run)

    render.__qualname__ = f"{module}.render"
    return render


#: format name -> renderer (RunRecord -> text). Exhaustively tested in tests/reports.
FORMATS: dict[str, Callable[[RunRecord], str]] = {
    "html": _lazy("html"),
    "json": _lazy("json_report"),
    "markdown": _lazy("markdown"),
    "sarif": _lazy("sarif"),
}


def write_report(run: RunRecord, fmt: str, output: Path | None) -> None:
    """Render and write atomically (a failed render never truncates an existing report)."""
    text = FORMATS[fmt](run)
    if output is None:
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # a report is an ordinary file, not a private temp file
    os.replace(tmp, output)
