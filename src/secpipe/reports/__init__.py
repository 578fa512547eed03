"""Reports rendered from a recorded run: one module per format, one registry of formats."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from secpipe.reports import html, json_report, markdown, sarif
from secpipe.runstore.records import RunRecord

#: format name -> renderer (RunRecord -> text). Exhaustively tested in tests/reports.
FORMATS: dict[str, Callable[[RunRecord], str]] = {
    "html": html.render,
    "json": json_report.render,
    "markdown": markdown.render,
    "sarif": sarif.render,
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
