#!/usr/bin/env python3
"""Generate the labelled secrets corpus and the large throughput tree (deterministic, seeded).

    python benchmarks/secrets/gen_corpus.py [OUT] [--seed N] [--large-mib 200] [--per-kind 2]

Writes under OUT (default /tmp/secpipe-bench/secrets):

- ``tree/``     working-tree files: source, config, notebooks, archives, lockfiles, binaries
- ``history/``  a git repository whose secrets exist only in past commits
- ``holdout/``  the same kinds in other languages and idioms, scored separately
- ``large/``    the throughput tree (``--large-mib`` MiB; 0 skips it)
- ``labels.json`` every planted secret (path, line, column, length, kind, sha256 of the secret,
  archive member / notebook cell / commits) and every decoy (path, line, category)

Nothing here is a live credential; every secret is random but format-valid.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import containers
import history
import holdout
import large_tree
import plain_files
from recorder import Recorder

DEFAULT_OUT = Path("/tmp/secpipe-bench/secrets")
LABELS_VERSION = 1


def generate(
    out: Path, seed: int = 1337, large_mib: int = 200, per_kind: int = 2
) -> dict[str, Any]:
    """Build the corpus under ``out``; returns the labels document (also written to disk)."""
    for part in ("tree", "history", "holdout"):
        if (out / part).exists():
            shutil.rmtree(out / part)
    out.mkdir(parents=True, exist_ok=True)
    rec = Recorder(out)
    plain_files.build(rec, random.Random(seed), per_kind=per_kind)
    containers.notebooks(rec, random.Random(seed + 1))
    containers.archives(rec, random.Random(seed + 2))
    history.build(rec, random.Random(seed + 3))
    holdout.build(rec, random.Random(seed + 5))
    large_stats: dict[str, int] = {}
    if large_mib > 0:
        large_stats = large_tree.build(rec, random.Random(seed + 4), large_mib)
    elif (out / "large").exists():
        shutil.rmtree(out / "large")
    labelled = [s for s in rec.secrets if s["root"] in ("tree", "history")]
    doc = {
        "version": LABELS_VERSION,
        "seed": seed,
        "params": {"large_mib": large_mib, "per_kind": per_kind},
        "summary": {
            "secrets": len(labelled),
            "kinds": len({s["kind"] for s in labelled}),
            "decoys": sum(d["root"] in ("tree", "history") for d in rec.decoys),
            "by_context": dict(sorted(Counter(s["context"] for s in labelled).items())),
            "large": large_stats,
            "holdout_secrets": sum(s["root"] == "holdout" for s in rec.secrets),
            "holdout_decoys": sum(d["root"] == "holdout" for d in rec.decoys),
            "large_secrets": sum(s["root"] == "large" for s in rec.secrets),
        },
        "secrets": rec.secrets,
        "decoys": rec.decoys,
    }
    (out / "labels.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return doc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--large-mib", type=int, default=200, help="size of large/ (0 = skip)")
    ap.add_argument("--per-kind", type=int, default=2, help="plain-file instances per kind")
    args = ap.parse_args(argv)
    start = time.monotonic()
    doc = generate(args.out, args.seed, args.large_mib, args.per_kind)
    summary = doc["summary"]
    print(json.dumps(summary, indent=1))
    print(f"wrote {args.out} in {time.monotonic() - start:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
