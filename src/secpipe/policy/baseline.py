"""Baselines: the fingerprints accepted as "already known", so a gate fails only on new findings.

A finding that says a scanner *could not decide* (:func:`undecided`: rule ids ending in
``.scan-incomplete``, ``.unreadable``, ``.undecided`` or ``.truncated``, e.g.
``web.scan-incomplete``, ``models.unreadable``) is never "already known": what it hides changes
from run to run while its fingerprint may not. :func:`write_baseline` leaves such findings out,
:func:`load_baseline` drops the fingerprints a baseline lists for them, and the gate asks
:func:`baseline_accepts` so a hand-written fingerprint cannot accept one either.
"""

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
UNDECIDED_SUFFIXES = (".scan-incomplete", ".unreadable", ".undecided", ".truncated")
"""Rule id endings of the findings that mean "could not decide" (every scanner's)."""


def undecided(rule_id: str) -> bool:
    """True for a rule id that means the scanner could not decide (never baselined)."""
    return rule_id.endswith(UNDECIDED_SUFFIXES)


def baseline_accepts(baseline: frozenset[str], finding: Finding) -> bool:
    """Whether ``baseline`` accepts ``finding``: its fingerprint is listed and it is not a
    could-not-decide finding (:func:`undecided`)."""
    return finding.fingerprint in baseline and not undecided(finding.rule_id)


def left_out_of_baseline(findings: Iterable[Finding]) -> int:
    """How many distinct findings :func:`write_baseline` leaves out (could-not-decide ones)."""
    return len({f.fingerprint for f in findings if undecided(f.rule_id)})


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
    entries = data.get("findings")
    dropped = {str(e.get("fingerprint")) for e in entries
               if isinstance(e, dict) and undecided(str(e.get("rule_id", "")))} \
        if isinstance(entries, list) else set()
    return frozenset(str(f) for f in data["fingerprints"]) - dropped


def write_baseline(path: Path, findings: Iterable[Finding], run_id: str) -> int:
    """Write the findings' fingerprints atomically, leaving out the could-not-decide ones
    (:func:`undecided`); returns how many were written."""
    entries = sorted({f.fingerprint: f for f in findings if not undecided(f.rule_id)}.items())
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
