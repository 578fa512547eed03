"""Score secpipe and gitleaks on the held-out set written by ``make_heldout.py``.

Usage: ``python benchmarks/secrets/heldout/score_heldout.py OUT [--tools secpipe,gitleaks]``.
A positive counts as found when a tool reports a finding in its file whose line range meets the
credential's lines; a decoy counts as reported when a tool reports any secret in its file.
Meta findings of secpipe (``secrets.scan-incomplete``, ``secrets.unreadable``) are not secrets.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

META = {"secrets.scan-incomplete", "secrets.unreadable"}
Spans = dict[str, list[tuple[int, int]]]


def _bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def secpipe(tree: Path) -> Spans:
    proc = subprocess.run([_bin("secpipe"), "scan", "secrets", str(tree), "--json", "--no-cache"],
                          capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"secpipe failed ({proc.returncode}): {proc.stderr[-400:]}")
    out: Spans = {}
    for f in json.loads(proc.stdout)["findings"]:
        if f["rule_id"] in META:
            continue
        loc = f["location"]
        line = loc.get("line") or 0
        out.setdefault(loc["path"], []).append((line, loc.get("end_line") or line))
    return out


def gitleaks(tree: Path) -> Spans:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        proc = subprocess.run([_bin("gitleaks"), "dir", str(tree), "--report-format", "json",
                               "--report-path", str(report), "--no-banner"],
                              capture_output=True, text=True, check=False)
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"gitleaks failed ({proc.returncode}): {proc.stderr[-400:]}")
        doc = json.loads(report.read_text() or "[]")
    out: Spans = {}
    for f in doc:
        rel = os.path.relpath(f["File"], tree)
        out.setdefault(rel, []).append((f["StartLine"], f["EndLine"]))
    return out


TOOLS = {"secpipe": secpipe, "gitleaks": gitleaks}


def score(manifest: list[dict[str, object]], spans: Spans) -> tuple[int, int, list[str]]:
    """(positives found, decoys reported, misses and false alarms by form)."""
    found = decoys = 0
    notes: list[str] = []
    for item in manifest:
        path, lo, hi = str(item["path"]), int(str(item["line"])), int(str(item["end"]))
        hits = spans.get(path, [])
        if item["kind"] == "positive":
            if any(a <= hi and b >= lo for a, b in hits):
                found += 1
            else:
                notes.append(f"miss  {item['form']} ({path})")
        elif hits:
            decoys += 1
            notes.append(f"decoy {item['form']} ({path})")
    return found, decoys, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--tools", default="secpipe,gitleaks")
    parser.add_argument("-v", "--verbose", action="store_true", help="list misses and decoys")
    args = parser.parse_args(argv)
    manifest = json.loads((args.out / "manifest.json").read_text())
    n_pos = sum(1 for m in manifest if m["kind"] == "positive")
    n_dec = len(manifest) - n_pos
    for name in args.tools.split(","):
        found, decoys, notes = score(manifest, TOOLS[name](args.out / "tree"))
        print(f"{name}: recall {found}/{n_pos} ({100 * found / n_pos:.0f}%), "
              f"decoys reported {decoys}/{n_dec}")
        if args.verbose:
            print("\n".join(f"  {n}" for n in notes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
