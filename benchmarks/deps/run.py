"""Benchmark of ``scan-deps`` matching (issue 12, "Measured" (c)): a 500-package lock matched
against a 10,000-record OSV database, both generated here by code.

    .venv/bin/python benchmarks/deps/run.py [--records 10000] [--packages 500] [--runs 5]

Import (JSON files -> SQLite) and match (open the database, evaluate every locked package, build
the findings) are timed apart: 1 warm-up run, then ``--runs`` timed runs, medians reported.
Version-parse caches are cleared before every match run, so no run profits from the one before.
Peak memory: ``tracemalloc`` over one extra match run (Python allocations), and the process's
``ru_maxrss`` at the end.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from secpipe.scanners.deps.match import match
from secpipe.scanners.deps.model import NPM, PYPI, Dependency
from secpipe.scanners.deps.osvdb import OsvDatabase, import_sources
from secpipe.scanners.deps.versions import parse_pep440, parse_semver

CVSS = ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N",
        "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:L"]


def _ghsa(rng: random.Random) -> str:
    alphabet = "23456789cfghjmpqrvwx"
    return "GHSA-" + "-".join("".join(rng.choice(alphabet) for _ in range(4)) for _ in range(3))


def generate_records(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """``count`` OSV records over ``count // 5`` packages (80 % PyPI, 20 % npm): two-branch
    ranges, some ``last_affected``, some explicit ``versions``, every other record paired with
    an alias of the same flaw."""
    packages = count // 5
    records: list[dict[str, Any]] = []
    for i in range(count):
        pkg = i % packages
        npm = pkg % 5 == 0
        eco, rtype = (NPM, "SEMVER") if npm else (PYPI, "ECOSYSTEM")
        major = rng.randint(0, 5)
        minor = rng.randint(0, 20)
        events: list[dict[str, str]] = [{"introduced": "0"},
                                        {"fixed": f"{major}.{minor}.{rng.randint(1, 9)}"}]
        if rng.random() < 0.5:
            events += [{"introduced": f"{major + 1}.0.0"},
                       {"fixed": f"{major + 1}.{rng.randint(1, 9)}.0"}]
        elif rng.random() < 0.2:
            events = [{"introduced": f"{major}.0.0"}, {"last_affected": f"{major}.{minor}.0"}]
        affected: dict[str, Any] = {"package": {"ecosystem": eco, "name": f"pkg-{pkg:05d}"},
                                    "ranges": [{"type": rtype, "events": events}]}
        if rng.random() < 0.1:
            affected["versions"] = [f"{major}.{minor}.{p}" for p in range(5)]
        rid = _ghsa(rng) if i % 2 == 0 else f"PYSEC-2024-{i}"
        cve = f"CVE-2024-{10000 + i // 2}"
        aliases = [cve] if i % 2 == 0 else [cve, records[-1]["id"]]
        rec: dict[str, Any] = {
            "id": rid, "modified": f"2024-{1 + i % 12:02d}-01T00:00:00Z", "aliases": aliases,
            "summary": f"generated advisory {i}", "details": "generated " * 20,
            "affected": [affected],
            "severity": [{"type": "CVSS_V3", "score": CVSS[i % 3]}] if i % 2 == 0 else [],
            "database_specific": {"severity": "HIGH", "cwe_ids": ["CWE-20"]},
        }
        if i % 997 == 0:
            rec["withdrawn"] = "2024-06-01T00:00:00Z"
        records.append(rec)
    return records


def generate_lock(count: int, records: int, rng: random.Random) -> list[Dependency]:
    packages = records // 5
    deps = []
    for n, pkg in enumerate(rng.sample(range(packages), count)):
        npm = pkg % 5 == 0
        version = f"{rng.randint(0, 6)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
        deps.append(Dependency(ecosystem=NPM if npm else PYPI, name=f"pkg-{pkg:05d}",
                               version=version, spec=f"=={version}",
                               path="package-lock.json" if npm else "poetry.lock",
                               line=None if npm else n + 1, direct=False, source="bench"))
    return deps


def _timed(fn: Any, runs: int) -> tuple[list[float], Any]:
    fn()  # warm-up
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return times, result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--packages", type=int, default=500)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=12)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    records = generate_records(args.records, rng)
    lock = generate_lock(args.packages, args.records, rng)
    with tempfile.TemporaryDirectory(prefix="secpipe-bench-deps-") as tmp:
        src = Path(tmp) / "records"
        src.mkdir()
        for rec in records:
            (src / f"{rec['id']}.json").write_text(json.dumps(rec))
        db = Path(tmp) / "osv.sqlite3"

        def do_import() -> Any:
            return import_sources([src], db, replace=True)

        def do_match() -> Any:
            parse_pep440.cache_clear()
            parse_semver.cache_clear()
            with OsvDatabase(db) as osv:
                return match(lock, osv)

        import_times, report = _timed(do_import, args.runs)
        match_times, outcome = _timed(do_match, args.runs)
        tracemalloc.start()
        do_match()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        db_bytes = db.stat().st_size
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    median_match = statistics.median(match_times)
    print(f"records: {report.records} imported ({report.withdrawn} withdrawn, "
          f"{report.invalid} invalid), database {db_bytes / (1 << 20):.1f} MiB")
    print(f"lock: {len(lock)} packages -> {outcome.vulnerable_dependencies} vulnerable, "
          f"{outcome.vulnerabilities} findings deps.vulnerable, "
          f"{len(outcome.findings)} findings in all")
    print(f"import: median {statistics.median(import_times):.3f} s "
          f"(runs: {', '.join(f'{t:.3f}' for t in import_times)})")
    print(f"match:  median {median_match:.3f} s "
          f"(runs: {', '.join(f'{t:.3f}' for t in match_times)})")
    print(f"match peak Python memory (tracemalloc): {peak / (1 << 20):.1f} MiB; "
          f"process max RSS: {rss_kib / 1024:.0f} MiB")
    print(f"target (match under 1 s): {'met' if median_match < 1.0 else 'MISSED'}")
    return 0 if median_match < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
