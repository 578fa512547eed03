"""Baselines: the fingerprints accepted as "already known", so a gate fails only on new findings."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from secpipe.core.errors import ConfigError
from secpipe.core.findings import Finding

DEFAULT_BASELINE = ".secpipe-baseline.json"
_MAX_BYTES = 64 << 20


def load_baseline(path: Path) -> frozenset[str]:
    """Fingerprints in a baseline file; a malformed file is a :class:`ConfigError`."""
    try:
        if path.stat().st_size > _MAX_BYTES:
            raise ConfigError(f"baseline {path} is larger than 64 MiB")
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"baseline {path}: cannot read: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"baseline {path}: not valid JSON: {exc}") from None
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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".baseline-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)
    return len(entries)
