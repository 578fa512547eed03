"""Scan paths with fickling's Python API (run with the fickling venv's python).

    python _fickling_driver.py PATH...   -> one JSON line per PATH

Zip containers go through ``fickling.loader.scan_zip_archive`` (the CLI cannot open them),
everything else through ``fickling.loader.scan_file``; folders are walked.
"""

from __future__ import annotations

import json
import os
import sys
import time
import zipfile

from fickling.analysis import Severity
from fickling.loader import scan_file, scan_zip_archive


def _one(path: str) -> tuple[Severity, list[str], list[str]]:
    """Return (max severity from analyses, errors, top findings) for one file."""
    if zipfile.is_zipfile(path):
        results = scan_zip_archive(path, graceful=True)
    else:
        results = {"": scan_file(path, graceful=True)}
    sev, errors, found = Severity.LIKELY_SAFE, [], []
    for member, r in results.items():
        errors += [f"{member}: {e}" for e in r.errors]
        for ar in r.results:
            if ar.severity > sev:
                sev = ar.severity
            for res in ar.results:
                if res.severity > Severity.LIKELY_SAFE and len(found) < 3:
                    found.append(f"{member}: {res.severity.name}: {str(res)[:160]}")
    return sev, errors, found


def scan(path: str) -> dict[str, object]:
    t0 = time.perf_counter()
    files = [path]
    if os.path.isdir(path):
        files = [os.path.join(d, f) for d, _, fs in os.walk(path) for f in sorted(fs)]
    sev, errors, found = Severity.LIKELY_SAFE, [], []
    for f in files:
        try:
            s, e, fd = _one(f)
        except Exception as exc:  # a crash is a result to record
            s, e, fd = Severity.LIKELY_SAFE, [f"crash {type(exc).__name__}: {exc}"], []
        sev = max(sev, s)
        errors += e
        found += fd
    return {"path": path, "severity": sev.name, "level": sev.severity, "errors": errors[:5],
            "n_errors": len(errors), "found": found[:3], "seconds": time.perf_counter() - t0}


if __name__ == "__main__":
    for p in sys.argv[1:]:
        print(json.dumps(scan(p)), flush=True)
