"""Helpers for the secrets scanner tests (a uniquely named module: test folders share sys.path)."""

from __future__ import annotations

from collections.abc import Callable

from secpipe.core.results import StepResult
from secpipe.scanners.secrets.archives import Limits
from secpipe.scanners.secrets.engine import FileScan, scan_bytes

LIMITS = Limits(max_file_bytes=1 << 20, max_depth=3, max_archive_bytes=4 << 20, max_members=50)


def scan(data: bytes | str, limits: Limits = LIMITS) -> FileScan:
    """Scan one file's content."""
    return scan_bytes(data.encode() if isinstance(data, str) else data, limits)


def rule_ids(data: bytes | str) -> list[str]:
    return [h.rule_id for h in scan(data).hits]


RunStep = Callable[..., StepResult]
