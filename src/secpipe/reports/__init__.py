"""Reports rendered from a recorded run: one module per format, one registry of formats.

Every format renders any name a scanned tree can hold: control characters and undecodable bytes
are escaped (:mod:`secpipe.reports.escape`), and a report file is written to what ``-o`` names
(:mod:`secpipe.core.output`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from secpipe.core.output import write_text

if TYPE_CHECKING:  # annotations only: a one-file scan does not import the run store
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
    """Render, then write to standard output or to what ``output`` names
    (:func:`secpipe.core.output.write_text`: a regular file atomically, a FIFO or device in
    place, a folder refused). A failed render writes nothing."""
    text = FORMATS[fmt](run)
    if output is None:
        sys.stdout.write(text)
        return
    write_text(output, text)
