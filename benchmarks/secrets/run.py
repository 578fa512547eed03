#!/usr/bin/env python3
"""Run secpipe, gitleaks and detect-secrets side by side on the secrets corpus, in one run.

    python benchmarks/secrets/run.py --setup            # peers' venvs under /tmp/secpipe-peers
    python benchmarks/secrets/gen_corpus.py             # corpus under /tmp/secpipe-bench/secrets
    python benchmarks/secrets/run.py [--runs 3]         # accuracy + throughput, writes results

Accuracy: recall (overall, per kind, for notebooks/archives/history), precision over reported
locations, decoys reported. A finding matches a label by file + line (+-1), archive member,
notebook cell, and commit for history. Throughput: wall-clock MB/s (10^6 bytes) on the large tree,
median of ``--runs`` after a warm-up; detect-secrets only on the ``large/pkg000`` subset (all tools
are also timed there, for a same-input ratio). secpipe's re-scan of the unchanged large tree uses
its content cache (cold runs pass ``--no-cache``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import labelcheck  # noqa: E402
import report  # noqa: E402
from score import score  # noqa: E402

import tools as tl  # noqa: E402

DEFAULT_CORPUS = Path("/tmp/secpipe-bench/secrets")
SUBSET = "pkg000"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _head(repo: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


def _stats(times: list[float], nbytes: int) -> dict[str, Any]:
    med = statistics.median(times)
    return {
        "times_s": [round(x, 3) for x in times],
        "median_s": round(med, 3),
        "mb_per_s": round(nbytes / 1e6 / med, 2),
    }


def interleaved(
    tools: list[tl.Tool], path: Path, runs: int, warmup: int, **kw: Any
) -> dict[str, dict[str, Any]]:
    """Warm-ups, then ``runs`` rounds in which every tool scans once (round-robin, so load from
    other jobs on the machine hits every tool alike). Keeps each tool's last hits."""
    out: dict[str, dict[str, Any]] = {t.name: {"times": [], "hits": []} for t in tools}
    for tool in tools:
        for _ in range(warmup):
            out[tool.name]["hits"], _secs = tool.scan("large", path, **kw)
    for _ in range(runs):
        for tool in tools:
            hits, secs = tool.scan("large", path, **kw)
            out[tool.name]["hits"] = hits
            out[tool.name]["times"].append(secs)
    return out


def accuracy(
    tool: tl.Tool, corpus: Path, labels: dict[str, Any], heads: dict[str, str]
) -> dict[str, Any]:
    tree_hits, t_tree = tool.scan("tree", corpus / "tree")
    hist_hits, t_hist = tool.scan("history", corpus / "history", history=True)
    hits = tree_hits + hist_hits
    out = {
        "labelled": score(labels, hits, heads, {"tree", "history"}),
        "working_tree_only": score(labels, tree_hits, heads, {"tree"}),
        "seconds": {"tree": round(t_tree, 3), "history": round(t_hist, 3)},
    }
    if (corpus / "holdout").is_dir():
        held_hits, t_held = tool.scan("holdout", corpus / "holdout")
        out["holdout"] = score(labels, held_hits, heads, {"holdout"})
        out["seconds"]["holdout"] = round(t_held, 3)
    return out


def throughput(
    tools: dict[str, tl.Tool], corpus: Path, args: argparse.Namespace, sizes: dict[str, int]
) -> dict[str, dict[str, Any]]:
    """MB/s on the subset (all tools) and the large tree (all but detect-secrets), re-scan."""
    out: dict[str, dict[str, Any]] = {name: {} for name in tools}
    fast = [t for t in tools.values() if t.name != "detect-secrets"]
    subset, large = corpus / "large" / SUBSET, corpus / "large"
    log(f"subset {SUBSET} ({sizes['subset'] / 1e6:.1f} MB): warm-up {args.warmup} + {args.runs}")
    for name, res in interleaved(fast, subset, args.runs, args.warmup).items():
        out[name]["subset"] = _stats(res["times"], sizes["subset"])
    if "detect-secrets" in tools:
        log(f"subset: detect-secrets x{args.ds_runs}")
        res = interleaved([tools["detect-secrets"]], subset, args.ds_runs, 0)["detect-secrets"]
        stats = _stats(res["times"], sizes["subset"])
        out["detect-secrets"]["subset"] = stats
        out["detect-secrets"]["large"] = {
            "scaled_from_subset": True,
            "mb_per_s": stats["mb_per_s"],
            "est_seconds": round(sizes["large"] / 1e6 / stats["mb_per_s"], 1),
        }
    log(f"large ({sizes['large'] / 1e6:.0f} MB): warm-up {args.warmup} + {args.runs}")
    for name, res in interleaved(fast, large, args.runs, args.warmup).items():
        out[name]["large"] = _stats(res["times"], sizes["large"])
        out[name]["_large_hits"] = res["hits"]
    sp = tools.get("secpipe")
    if isinstance(sp, tl.Secpipe):
        log(f"secpipe re-scan of the unchanged large tree (cache) x{args.runs}")
        shutil.rmtree(Path(sp.env["XDG_CACHE_HOME"]), ignore_errors=True)
        _, first = sp.scan("large", large, cache=True)
        res = interleaved([sp], large, args.runs, 0, cache=True)["secpipe"]
        out["secpipe"]["rescan_cached"] = {
            "first_fill_s": round(first, 3),
            **_stats(res["times"], sizes["large"]),
        }
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    peers = tl.PEERS_DIR
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--out", type=Path, help="results JSON (default CORPUS/results.json)")
    ap.add_argument("--markdown", type=Path, help="also write the Markdown table here")
    ap.add_argument("--tools", default="secpipe,gitleaks,detect-secrets")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per throughput measurement")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--ds-runs", type=int, default=1, help="timed detect-secrets subset runs")
    ap.add_argument("--skip-large", action="store_true", help="accuracy only")
    ap.add_argument("--setup", action="store_true", help="create the peers' venvs and exit")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/secpipe-bench/work"))
    ap.add_argument(
        "--secpipe",
        default=os.environ.get("SECPIPE_BIN", str(HERE.parents[1] / ".venv" / "bin" / "secpipe")),
    )
    ap.add_argument(
        "--gitleaks",
        default=os.environ.get("GITLEAKS_BIN", str(peers / "gitleaks" / "bin" / "gitleaks")),
    )
    ap.add_argument(
        "--detect-secrets",
        default=os.environ.get(
            "DETECT_SECRETS_BIN", str(peers / "detect-secrets" / "bin" / "detect-secrets")
        ),
    )
    args = ap.parse_args(argv)
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.setup:
        tl.setup_peers(tl.PEERS_DIR)
        return 0
    corpus: Path = args.corpus
    if not (corpus / "labels.json").exists():
        print(f"no corpus at {corpus}: run gen_corpus.py first", file=sys.stderr)
        return 2
    problems = labelcheck.check(corpus)
    if problems:
        print("labels do not match the corpus:\n" + "\n".join(problems[:20]), file=sys.stderr)
        return 2
    labels = json.loads((corpus / "labels.json").read_text())
    heads = {"history": _head(corpus / "history")}
    args.workdir.mkdir(parents=True, exist_ok=True)
    tools = tl.make_tools(args)
    missing = [n for n, t in tools.items() if not t.available()]
    if missing:
        print(f"not available: {', '.join(missing)} (see --setup / --help)", file=sys.stderr)
        return 2
    sizes = {}
    if not args.skip_large:
        sizes = {
            "large": tree_bytes(corpus / "large"),
            "subset": tree_bytes(corpus / "large" / SUBSET),
        }
    results: dict[str, Any] = {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "nproc": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        },
        "command": "python benchmarks/secrets/run.py " + " ".join(argv or sys.argv[1:]),
        "corpus": {**labels["summary"], "sizes_bytes": sizes},
        "tools": {},
    }
    for name, tool in tools.items():
        log(f"{name} {tool.version}: labelled corpus")
        results["tools"][name] = {"version": tool.version, **accuracy(tool, corpus, labels, heads)}
    if not args.skip_large:
        perf = throughput(tools, corpus, args, sizes)
        for name, entry in results["tools"].items():
            large_hits = perf[name].pop("_large_hits", None)
            if large_hits is not None:
                entry["large_recall"] = score(labels, large_hits, heads, {"large"})
            entry["throughput"] = perf[name]
    results["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    out = args.out or corpus / "results.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    table = report.markdown(results)
    if args.markdown:
        args.markdown.write_text(table)
    print(table)
    log(f"results written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
