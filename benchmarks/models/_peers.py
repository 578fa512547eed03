"""Adapters: how to install, run and read each model scanner (secpipe and the four peers).

Each adapter turns one invocation into a :class:`Verdict`: ``flagged`` (the tool reported a
problem), ``clean``, ``error`` (it crashed, could not parse, or said "inconclusive" without
flagging), ``unscanned`` (it silently skipped the input) or ``timeout``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

HERE = Path(__file__).resolve().parent
PEERS = Path(os.environ.get("SECPIPE_PEERS_DIR", "/tmp/secpipe-peers"))
SECPIPE = Path(os.environ.get("SECPIPE_BIN", str(HERE.parents[1] / ".venv/bin/secpipe")))
ENV = {**os.environ, "PROMPTFOO_DISABLE_TELEMETRY": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
       "NO_COLOR": "1", "HOME": "/tmp/secpipe-bench/models-home"}


@dataclass(frozen=True)
class Verdict:
    """One tool's answer on one input."""

    status: str
    """flagged | clean | error | unscanned | timeout"""
    critical: bool
    """The tool put it in its top severity class (critical / overtly malicious / dangerous)."""
    detail: str
    """First finding or error, shortened."""
    seconds: float
    """Wall time of the invocation (process start included)."""
    rc: int
    cpu: float = 0.0
    """CPU seconds (user + system) of the tool's process."""


class _Popen(subprocess.Popen[str]):
    """Popen that keeps the child's rusage (CPU time is robust on a shared, loaded machine)."""

    rusage: object = None

    def _try_wait(self, wait_flags: int) -> tuple[int, int]:
        try:
            pid, sts, ru = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return self.pid, 0
        if pid == self.pid:
            self.rusage = ru
        return pid, sts


def _run(cmd: list[str], timeout: float) -> tuple[int, str, str, float, float]:
    """Run ``cmd``; return rc, stdout, stderr, wall seconds, CPU seconds (user + system)."""
    t0 = time.perf_counter()
    with _Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                errors="replace") as p:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            return -9, "", "timeout", time.perf_counter() - t0, 0.0
    ru = p.rusage
    cpu = (ru.ru_utime + ru.ru_stime) if ru is not None else 0.0  # type: ignore[attr-defined]
    return p.returncode, out, err, time.perf_counter() - t0, cpu


def _last_json(text: str) -> dict[str, Any] | None:
    start = text.find("{")
    if start < 0:
        return None
    try:
        obj = json.loads(text[start:])
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


class Tool:
    """Base adapter."""

    name = ""
    venv: Path = PEERS
    packages: list[str] = []

    def available(self) -> bool:
        return self.exe().exists()

    def exe(self) -> Path:
        return self.venv / "bin" / self.name

    def version(self) -> str:
        out = subprocess.run([str(self.venv / "bin/pip"), "show", self.packages[0].split("[")[0]
                              .split("=")[0]], capture_output=True, text=True, check=False).stdout
        m = re.search(r"^Version: (.+)$", out, re.M)
        return m.group(1) if m else "?"

    def cmd(self, path: Path, workdir: Path) -> list[str]:
        raise NotImplementedError

    def parse(self, rc: int, out: str, err: str, workdir: Path) -> tuple[str, bool, str]:
        raise NotImplementedError

    def scan(self, path: Path, workdir: Path, timeout: float) -> Verdict:
        rc, out, err, secs, cpu = _run(self.cmd(path, workdir), timeout)
        if rc == -9:
            return Verdict("timeout", False, f"timeout after {timeout:.0f}s", secs, rc, cpu)
        try:
            status, crit, detail = self.parse(rc, out, err, workdir)
        except Exception as exc:
            status, crit, detail = "error", False, f"unparsable output ({exc}): {err[-200:]}"
        return Verdict(status, crit, " ".join(detail.split())[:240], secs, rc, cpu)


class Picklescan(Tool):
    name = "picklescan"
    venv = PEERS / "picklescan"
    packages = ["picklescan==1.0.5"]

    def cmd(self, path: Path, workdir: Path) -> list[str]:
        return [str(self.exe()), "-p", str(path)]

    def parse(self, rc: int, out: str, err: str, workdir: Path) -> tuple[str, bool, str]:
        text = out + err
        found = re.findall(r": dangerous import '([^']+)' FOUND", text)
        m = re.search(r"Infected files: (\d+)", text)
        if found or (m and int(m.group(1)) > 0):
            return "flagged", True, "; ".join(found[:3])
        errors = [ln for ln in text.splitlines() if ln.startswith("ERROR")]
        if errors or rc not in (0, 1):
            return "error", False, (errors or [text[-200:]])[0]
        scanned = re.search(r"Scanned files: (\d+)", text)
        if scanned and int(scanned.group(1)) == 0:
            return "unscanned", False, "scanned 0 files"
        return "clean", False, ""


class Modelscan(Tool):
    name = "modelscan"
    venv = PEERS / "modelscan"
    packages = ["modelscan[tensorflow,h5py]==0.8.8", "numpy==2.2.6"]

    def cmd(self, path: Path, workdir: Path) -> list[str]:
        return [str(self.exe()), "-p", str(path), "-r", "json", "-o", str(workdir / "ms.json")]

    def parse(self, rc: int, out: str, err: str, workdir: Path) -> tuple[str, bool, str]:
        rep = workdir / "ms.json"
        if not rep.exists():
            return "error", False, f"rc={rc} no report: {(out + err)[-200:]}"
        d = json.loads(rep.read_text())
        rep.unlink()
        issues = d.get("issues") or []
        if issues:
            crit = any(i.get("severity") == "CRITICAL" for i in issues)
            return "flagged", crit, "; ".join(f"{i.get('severity')} {i.get('module')}."
                                             f"{i.get('operator')}" for i in issues[:3])
        if d.get("errors"):
            e = d["errors"][0]
            return "error", False, f"{e.get('category')}: {e.get('description')}"
        if not (d.get("summary", {}).get("scanned") or {}).get("total_scanned"):
            return "unscanned", False, "nothing scanned"
        return "clean", False, ""


class ModelAudit(Tool):
    name = "modelaudit"
    venv = PEERS / "modelaudit"
    packages = ["modelaudit==0.2.54"]

    def cmd(self, path: Path, workdir: Path) -> list[str]:
        return [str(self.exe()), "scan", str(path), "--format", "json", "--no-cache"]

    def parse(self, rc: int, out: str, err: str, workdir: Path) -> tuple[str, bool, str]:
        d = _last_json(out)
        if d is None:
            return "error", False, f"rc={rc}: {(out + err)[-200:]}"
        issues = [i for i in d.get("issues") or [] if i.get("severity") in ("critical", "warning")]
        if issues:
            crit = any(i.get("severity") == "critical" for i in issues)
            first = sorted(issues, key=lambda i: i.get("severity") != "critical")[0]
            return "flagged", crit, f"{first.get('severity')}: {first.get('message')}"
        if d.get("has_errors") or rc == 2:
            msgs = [i.get("message") for i in d.get("issues") or []]
            return "error", False, f"rc={rc} inconclusive/errors: {msgs[:1]}"
        if not d.get("files_scanned"):
            return "unscanned", False, "files_scanned=0"
        return "clean", False, ""


class Fickling(Tool):
    name = "fickling"
    venv = PEERS / "fickling"
    packages = ["fickling==0.1.12", "typing_extensions"]
    """fickling 0.1.12 imports typing_extensions without declaring it."""

    def cmd(self, path: Path, workdir: Path) -> list[str]:
        return [str(self.venv / "bin/python"), str(HERE / "_fickling_driver.py"), str(path)]

    def parse(self, rc: int, out: str, err: str, workdir: Path) -> tuple[str, bool, str]:
        d = _last_json(out)
        if d is None:
            return "error", False, f"rc={rc}: {err[-200:]}"
        level = int(d["level"])  # type: ignore[call-overload]
        if level > 0:
            return "flagged", level >= 4, f"{d['severity']}: {(d['found'] or [''])[0]}"
        if d["n_errors"]:
            first = str(d["errors"][0])  # type: ignore[index]
            if "No pickle files detected" in first:
                return "unscanned", False, first
            return "error", False, first
        return "clean", False, ""


class Secpipe(Tool):
    name = "secpipe"
    packages = ["secpipe"]

    def exe(self) -> Path:
        return SECPIPE

    def available(self) -> bool:
        if not SECPIPE.exists():
            return False
        p = subprocess.run([str(SECPIPE), "scan", "models", "--help"], capture_output=True,
                           text=True, check=False, env=ENV)
        return p.returncode == 0

    def version(self) -> str:
        p = subprocess.run([str(SECPIPE), "--version"], capture_output=True, text=True,
                           check=False, env=ENV)
        return (p.stdout.strip().split() or ["?"])[-1]

    def cmd(self, path: Path, workdir: Path) -> list[str]:
        return [str(SECPIPE), "scan", "models", str(path), "--json"]

    def parse(self, rc: int, out: str, err: str, workdir: Path) -> tuple[str, bool, str]:
        d = _last_json(out)
        if d is None:
            return "error", False, f"rc={rc}: {(out + err)[-200:]}"
        fs = [f for f in d.get("findings") or [] if str(f.get("severity")).lower() != "info"]
        if fs:
            crit = any(str(f.get("severity")).lower() == "critical" for f in fs)
            f = fs[0]
            call = (f.get("properties") or {}).get("callable") or ""
            return "flagged", crit, f"{f.get('severity')} {f.get('rule_id')} {call}".strip()
        steps = d.get("steps") or []
        bad = [st for st in steps if str(st.get("status")).lower() in ("error", "failed")
               and not st.get("findings")]
        if rc not in (0, 1) or bad:
            why = bad[0].get("message") if bad else (out + err)[-200:]
            return "error", False, f"rc={rc}: {why}"
        found = sum(float((st.get("metrics") or {}).get("models_found", 1)) for st in steps)
        if steps and found == 0:
            return "unscanned", False, "no model file recognised"
        return "clean", False, ""


ALL: dict[str, Tool] = {t.name: t for t in (Secpipe(), Modelscan(), Picklescan(), Fickling(),
                                            ModelAudit())}


def setup(names: list[str], log: TextIO = sys.stderr) -> None:
    """Create each peer's own venv under PEERS and install it exactly as PEERS.md says."""
    for n in names:
        t = ALL[n]
        if n == "secpipe":
            continue
        if not (t.venv / "bin/python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(t.venv)], check=True)
        subprocess.run([str(t.venv / "bin/pip"), "install", "-q", *t.packages], check=True,
                       env=ENV)
        print(f"setup: {n} {t.version()} in {t.venv}", file=log)
