"""DAST benchmark: ``secpipe scan web`` beside Wapiti on the deliberately vulnerable app.

Usage (from the repository root)::

    .venv/bin/python benchmarks/dast/run.py [--tools secpipe,wapiti] [--parts main,heldout]
                                            [--runs N] [--json OUT] [--wapiti PATH]

For every tool, part and run a FRESH app (``app.py --part P``) is started on a free loopback
port, so stored-XSS state and the request counter never leak between tools or runs. The tool
scans ``http://127.0.0.1:PORT/``; its findings are reduced to (route, kind) hits (``_score``)
and scored against ``labels.json``: TPR on vulnerable routes, false alarms on safe twins and
hard negatives, Youden J, the requests the app received (its counter at a secret path) and
wall time. With ``--runs N`` (N > 1) one warm-up run comes first and medians are reported.

Commands run:

* ``secpipe scan web URL -f sarif -o OUT [--secpipe-args]`` (kind, route, method, param from
  each result's ``properties.details``)
* ``wapiti -u URL -m MODULES -f json -o OUT --flush-session`` from its own venv
  (``~/.cache/secpipe/peers/wapiti``, or ``--wapiti PATH``), never from ``.venv``.

A tool that is missing or fails is reported as such, never scored as 0.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _score

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WAPITI_DEFAULT = Path.home() / ".cache" / "secpipe" / "peers" / "wapiti" / "bin" / "wapiti"
WAPITI_MODULES = ("xss,permanentxss,sql,timesql,exec,file,redirect,ssrf,csp,http_headers,"
                  "cookieflags,methods,backup,htaccess,crlf")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class App:
    """One fresh app process on a free loopback port; stopped by its PID."""

    def __init__(self, part: str, python: str = sys.executable) -> None:
        self.part, self.token, self.port = part, secrets.token_hex(16), free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        # the app runs shell commands built from what the scanners send: its own scratch folder
        self.scratch = tempfile.mkdtemp(prefix="secpipe-dast-app-")
        self.proc = subprocess.Popen(
            [python, str(HERE / "app.py"), "--port", str(self.port), "--part", part,
             "--token", self.token], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, cwd=self.scratch)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.requests()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"benchmark app ({part}) did not start") from None
                time.sleep(0.1)

    def requests(self) -> int:
        with urllib.request.urlopen(f"{self.url}__bench/requests-{self.token}",  # noqa: S310
                                    timeout=5) as r:
            n: int = json.load(r)["requests"]
            return n

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Scan:
    hits: list[_score.Hit] = field(default_factory=list)
    wall_s: float = 0.0
    requests: int = 0
    incomplete: int = 0
    error: str | None = None


def _run(cmd: list[str], timeout: float, env: dict[str, str] | None = None
         ) -> tuple[int, str, float]:
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                           cwd=ROOT)
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {timeout:.0f} s", time.monotonic() - t0
    return p.returncode, (p.stderr or p.stdout)[-2000:], time.monotonic() - t0


def scan_secpipe(url: str, out: Path, secpipe: list[str], timeout: float,
                 extra: list[str]) -> Scan:
    report = out / "secpipe.sarif"
    report.unlink(missing_ok=True)
    rc, err, wall = _run([*secpipe, "scan", "web", url, "-f", "sarif", "-o", str(report),
                          *extra], timeout)
    if not report.is_file():
        return Scan(wall_s=wall, error=f"exit {rc}, no report: {err.strip()[-300:]}")
    doc = json.loads(report.read_text(encoding="utf-8"))
    return Scan(_score.hits_from_sarif(doc), wall, incomplete=_score.incomplete_from_sarif(doc))


def scan_wapiti(url: str, out: Path, wapiti: str, timeout: float, modules: str) -> Scan:
    report = out / "wapiti.json"
    report.unlink(missing_ok=True)
    home = out / "wapiti-home"
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home)}
    rc, err, wall = _run([wapiti, "-u", url, "-m", modules, "-f", "json", "-o", str(report),
                          "--flush-session", "--max-scan-time", str(int(timeout - 30)),
                          "--verify-ssl", "0"], timeout, env)
    if not report.is_file():
        return Scan(wall_s=wall, error=f"exit {rc}, no report: {err.strip()[-300:]}")
    doc = json.loads(report.read_text(encoding="utf-8"))
    return Scan(_score.hits_from_wapiti(doc), wall)


def run_one(tool: str, part: str, out: Path, args: argparse.Namespace) -> Scan:
    out.mkdir(parents=True, exist_ok=True)
    with App(part) as app:
        before = app.requests()
        if tool == "secpipe":
            scan = scan_secpipe(app.url, out, args.secpipe_cmd, args.timeout,
                                shlex.split(args.secpipe_args))
        else:
            scan = scan_wapiti(app.url, out, args.wapiti, args.timeout, args.wapiti_modules)
        try:
            scan.requests = app.requests() - before
        except OSError:
            scan.requests = -1
    return scan


def median(xs: list[float]) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(scans: list[Scan], part: str, labels: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over runs of each run's score."""
    ok = [s for s in scans if s.error is None]
    if not ok:
        return {"error": scans[-1].error if scans else "no run"}
    scored = [_score.score(labels, s.hits, part, labels).as_dict() for s in ok]
    kinds = {}
    for k in scored[0]["kinds"]:
        ks = [sc["kinds"][k] for sc in scored]
        kinds[k] = {**ks[-1], "tpr": median([x["tpr"] for x in ks]),
                    "far": median([x["far"] for x in ks])}
    last = scored[-1]
    return {"runs": len(ok), "tpr": median([s["tpr"] for s in scored]),
            "far": median([s["far"] for s in scored]), "j": median([s["j"] for s in scored]),
            "requests": median([float(s.requests) for s in ok]),
            "wall_s": median([s.wall_s for s in ok]),
            "unlabelled": median([float(len(s["unlabelled"])) for s in scored]),
            "other": median([float(s["other"]) for s in scored]),
            "incomplete": median([float(s.incomplete) for s in ok]),
            "kinds": kinds, "last_run": {k: last[k] for k in
                                         ("found", "vulnerable", "false_alarm_count",
                                          "negatives", "missed", "false_alarm_routes",
                                          "unlabelled")}}


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f} %"


def markdown(results: dict[str, dict[str, Any]], parts: list[str]) -> list[str]:
    lines = ["| Tool | Part | TPR (vulnerable found) | False alarms (twins, hard negatives) | "
             "Youden J | Unlabelled findings | Other findings | Requests | Wall (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for tool, per in results.items():
        for part in parts:
            r = per[part]
            if "error" in r:
                lines.append(f"| {tool} | {part} | error: {str(r['error'])[:100]} | | | | | | |")
                continue
            lr = r["last_run"]
            j = "-" if r["j"] is None else f"{r['j']:.2f}"
            lines.append(
                f"| {tool} | {part} | {pct(r['tpr'])} ({lr['found']}/{lr['vulnerable']}) | "
                f"{pct(r['far'])} ({lr['false_alarm_count']}/{lr['negatives']}) | "
                f"{j} | {r['unlabelled']:.0f} | {r['other']:.0f} | "
                f"{r['requests']:.0f} | {r['wall_s']:.1f} |")
    lines += ["", "Per kind (TPR / false-alarm rate; `-`: no such label):", ""]
    cols = [(t, p) for t in results for p in parts]
    lines.append("| Kind | " + " | ".join(f"{t} {p}" for t, p in cols) + " |")
    lines.append("|---|" + "---|" * len(cols))
    for k in _score.KINDS:
        cells = []
        for t, p in cols:
            r = results[t][p]
            ks = r.get("kinds", {}).get(k) if "error" not in r else None
            cells.append("error" if ks is None else f"{pct(ks['tpr'])} / {pct(ks['far'])}")
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return lines


def find_wapiti(given: str | None) -> str | None:
    if given:
        return given
    if WAPITI_DEFAULT.is_file():
        return str(WAPITI_DEFAULT)
    return shutil.which("wapiti")


def find_secpipe() -> list[str] | None:
    exe = Path(sys.executable).parent / "secpipe"
    if exe.is_file():
        return [str(exe)]
    w = shutil.which("secpipe")
    return [w] if w else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tools", default="secpipe,wapiti")
    ap.add_argument("--parts", default="main,heldout")
    ap.add_argument("--runs", type=int, default=1, help="scored runs; >1 adds one warm-up")
    ap.add_argument("--timeout", type=float, default=900.0, help="per scan, seconds")
    ap.add_argument("--wapiti", help="path of the wapiti program")
    ap.add_argument("--wapiti-modules", default=WAPITI_MODULES)
    ap.add_argument("--secpipe-args", default="",
                    help="extra arguments for secpipe scan web (e.g. '--wapiti')")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/secpipe-bench/dast"))
    ap.add_argument("--json", type=Path, help="write the results here "
                    "(default WORKDIR/results.json)")
    args = ap.parse_args(argv)
    tools = [t for t in args.tools.split(",") if t]
    parts = [p for p in args.parts.split(",") if p]
    labels = _score.load_labels()
    results: dict[str, dict[str, Any]] = {}
    args.secpipe_cmd = find_secpipe()
    args.wapiti = find_wapiti(args.wapiti)
    for tool in tools:
        results[tool] = {}
        missing = (tool == "secpipe" and args.secpipe_cmd is None) or \
            (tool == "wapiti" and args.wapiti is None)
        for part in parts:
            if missing:
                results[tool][part] = {"error": f"{tool} not found"}
                continue
            rounds = args.runs + (1 if args.runs > 1 else 0)
            scans = []
            for i in range(rounds):
                log(f"{tool} on {part}: run {i + 1}/{rounds}")
                s = run_one(tool, part, args.workdir / tool / part / f"run{i}", args)
                if s.error:
                    log(f"  {tool} failed: {s.error}")
                log(f"  {len(s.hits)} findings, {s.requests} requests, {s.wall_s:.1f} s")
                scans.append(s)
            results[tool][part] = summarize(scans[1:] if rounds > args.runs else scans, part,
                                            labels)
    md = markdown(results, parts)
    print("\n".join(md))
    out = args.json or args.workdir / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"tools": results, "parts": parts, "runs": args.runs,
                               "wapiti_modules": args.wapiti_modules}, indent=1, default=str)
                   + "\n", encoding="utf-8")
    log(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
