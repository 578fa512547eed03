"""Baselines: the fingerprints accepted as "already known", so a gate fails only on new findings."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path

from secpipe.core.errors import ConfigError
from secpipe.core.findings import Finding
from secpipe.core.safeload import read_regular_file, write_text_atomically

DEFAULT_BASELINE = ".secpipe-baseline.json"
_MAX_BYTES = 64 << 20


def load_baseline(path: Path) -> frozenset[str]:
    """Fingerprints in a baseline file (a regular file of at most 64 MiB); a malformed file is a
    :class:`ConfigError`."""
    raw = read_regular_file(path, _MAX_BYTES, f"baseline {path}")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ConfigError(f"baseline {path}: not valid JSON: {type(exc).__name__}: "
                          f"{str(exc)[:200]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("fingerprints"), list):
        raise ConfigError(f"baseline {path}: expected an object with a 'fingerprints' list")
    return frozenset(str(f) for f in data["fingerprints"])


def write_baseline(path: Path, findings: Iterable[Finding], run_id: str) -> int:
    """Write the findings' fingerprints atomically; returns how many were written."""
    entries = sorted({f.fingerprint: f for f in findings}.items())
    data = {
        "version": 1,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "run_id": run_id,
        "fingerprints": [fp for fp, _ in entries],
        "findings": [
            {"fingerprint": fp, "rule_id": f.rule_id, "location": f.location.display()}
            for fp, f in entries
        ],
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"baseline {path}: cannot create its folder: {exc.strerror}") from None
    write_text_atomically(path, json.dumps(data, indent=2) + "\n", f"baseline {path}")
    return len(entries)
