"""Score secpipe's model scanner beside modelscan, picklescan, fickling and ModelAudit.

    python run.py --setup                       # create the venvs (peers + corpus generators)
    python run.py [--corpus DIR] [--large-dir DIR] [--runs 3] [--out results.json]

One run does: a detection pass (each tool invoked once per labelled file, so every verdict is
attributable), a throughput pass (each tool on the whole corpus folder: one warm-up, then
``--runs`` timed runs, median) and a large-file pass (each tool on each >= 1 GiB file: warm-up
then ``--large-runs`` runs, median MB/s).  Writes results JSON and prints Markdown tables.
Any python >= 3.10 runs this file; the tools run from their own venvs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _peers
import _report

BENCH = Path("/tmp/secpipe-bench")
GEN_VENVS = {
    BENCH / "venv-gen": ["torch==2.13.0", "scikit-learn==1.9.1", "joblib==1.6.0", "numpy==2.4.6",
                         "onnx==1.23.2", "h5py==3.16.0", "safetensors==0.8.0", "gguf==0.19.0",
                         "py7zr==1.1.4"],
    BENCH / "venv-tf": ["tensorflow==2.21.0", "h5py==3.14.0"],
}


def _setup(tools: list[str]) -> None:
    _peers.setup(tools)
    for venv, pkgs in GEN_VENVS.items():
        if not (venv / "bin/python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin/pip"), "install", "-q", *pkgs], check=True)
        print(f"setup: generator venv {venv}", file=sys.stderr)


def detection(tools: list[str], corpus: Path, labels: dict[str, dict[str, str]], jobs: int,
              timeout: float) -> dict[str, dict[str, dict[str, object]]]:
    """Every tool on every labelled path; returns {path: {tool: verdict}}."""
    out: dict[str, dict[str, dict[str, object]]] = {p: {} for p in labels}
    for name in tools:
        tool = _peers.ALL[name]
        t0 = time.monotonic()

        def one(rel: str, tool: _peers.Tool = tool) -> tuple[str, _peers.Verdict]:
            with tempfile.TemporaryDirectory(prefix="bench-") as wd:
                return rel, tool.scan(corpus / rel, Path(wd), timeout)

        with ThreadPoolExecutor(jobs) as ex:
            for rel, v in ex.map(one, sorted(labels)):
                out[rel][name] = asdict(v)
        print(f"detection: {name} done in {time.monotonic() - t0:.0f}s", file=sys.stderr)
    return out


def _timed(tool: _peers.Tool, path: Path, runs: int, timeout: float) -> dict[str, object]:
    times: list[float] = []
    cpus: list[float] = []
    last = None
    for i in range(runs + 1):
        with tempfile.TemporaryDirectory(prefix="bench-") as wd:
            last = tool.scan(path, Path(wd), timeout)
        if last.status == "timeout":
            return {"median_s": None, "median_cpu_s": None, "runs": times,
                    "verdict": asdict(last)}
        if i:  # run 0 is the warm-up
            times.append(round(last.seconds, 3))
            cpus.append(round(last.cpu, 3))
    return {"median_s": statistics.median(times), "median_cpu_s": statistics.median(cpus),
            "runs": times, "cpu_runs": cpus, "verdict": asdict(last) if last else None}


def _size(p: Path) -> int:
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--setup", action="store_true", help="create the venvs and exit")
    ap.add_argument("--corpus", type=Path, default=BENCH / "models")
    ap.add_argument("--large-dir", type=Path, default=None)
    ap.add_argument("--tools", default=",".join(_peers.ALL))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--large-runs", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("--out", type=Path, default=BENCH / "results-models.json")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the tables here")
    ap.add_argument("--techniques", type=Path, default=None,
                    help="also write TECHNIQUES.md (technique, trick, who catches it) here")
    a = ap.parse_args(argv)
    tools = [t for t in a.tools.split(",") if t]
    if a.setup:
        _setup(tools)
        return 0
    missing = [t for t in tools if not _peers.ALL[t].available()]
    for t in missing:
        print(f"note: {t} is not available, left out", file=sys.stderr)
    tools = [t for t in tools if t not in missing]
    labels = json.loads((a.corpus / "labels.json").read_text())["files"]
    res: dict[str, object] = {
        "meta": {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                 "nproc": os.cpu_count(), "command": "python " + " ".join(sys.argv),
                 "corpus": str(a.corpus), "versions": {t: _peers.ALL[t].version() for t in tools},
                 "runs": a.runs, "large_runs": a.large_runs, "jobs": a.jobs},
        "labels": labels,
    }
    res["detection"] = detection(tools, a.corpus, labels, a.jobs, a.timeout)
    if not a.skip_throughput:
        size = sum(_size(a.corpus / p) for p in labels)
        res["throughput"] = {"files": len(labels), "bytes": size, "tools": {
            t: _timed(_peers.ALL[t], a.corpus, a.runs, a.timeout * 4) for t in tools}}
        print("throughput: done", file=sys.stderr)
    ldir = a.large_dir or Path(str(a.corpus) + "-large")
    if not a.skip_large and ldir.exists():
        res["large"] = {}
        for f in sorted(p for p in ldir.iterdir() if p.suffix in (".pt", ".safetensors")):
            res["large"][f.name] = {"bytes": f.stat().st_size, "tools": {  # type: ignore[index]
                t: _timed(_peers.ALL[t], f, a.large_runs, a.timeout * 2) for t in tools}}
        print("large: done", file=sys.stderr)
    a.out.write_text(json.dumps(res, indent=1))
    md = _report.markdown(res)
    if a.markdown:
        a.markdown.write_text(md)
    if a.techniques:
        a.techniques.write_text(_report.techniques_md(res))
    print(md)
    print(f"results: {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
