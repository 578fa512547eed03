"""Done-when of the deploy-and-verify issue on the example project: `secpipe run devsecops`
deploys the example's Flask app (its secpipe.yaml `deploy:` block: the app's own command, since
no image builder is configured there), smoke-tests `/predict`, finds the planted web weaknesses
(README 11-13) and none of their safe twins, checks its ports and host, gates, and leaves nothing
running.

Real components only: the app itself on a loopback port, secpipe's DAST against it, nmap,
OpenSCAP and Lynis (scripts/ci-tools.sh installs them)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from secpipe.cli.main import main
from secpipe.scanners.deps.osvdb import import_sources

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "request-classifier"
OSV_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "osv"

pytestmark = [
    pytest.mark.slow, pytest.mark.external,
    pytest.mark.skipif(shutil.which("nmap") is None or shutil.which("oscap") is None,
                       reason="nmap/oscap missing (scripts/ci-tools.sh installs them)"),
]


def _run(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(["run", "devsecops", "-C", str(root), "-q", "--json"])
    return code, json.loads(capsys.readouterr().out)


def _steps(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in report["steps"]}


def _blocking(report: dict[str, Any]) -> list[dict[str, Any]]:
    accepted = {fp for s in report["steps"] if s.get("gate")
                for fp, _ in s["gate"].get("accepted", [])}
    return [f for f in report["findings"] if f["severity"] in ("high", "critical")
            and f["fingerprint"] not in accepted]


def _suppress(root: Path, findings: list[dict[str, Any]]) -> None:
    for finding in findings:
        assert main(["suppress", finding["fingerprint"], "--reason", "planted on purpose",
                     "-C", str(root)]) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _deployed_pid(step: dict[str, Any]) -> int:
    artifact = next(a for a in step["artifacts"] if a["name"] == "deployment")
    pid = json.loads(Path(artifact["path"]).read_text())["pid"]
    assert isinstance(pid, int) and pid > 0
    return pid


def _web(report: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(kind, route, param) of every scan-web finding."""
    out = set()
    for f in report["findings"]:
        if f["scanner"] == "scan-web":
            props = f.get("properties", {})
            out.add((props.get("kind", ""), props.get("route", ""), props.get("param", "")))
    return out


def test_devsecops_deploys_smoke_tests_finds_web_plants_not_twins_and_tears_down(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "request-classifier"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(
        ".secpipe", "data", "artifacts", "__pycache__", ".secpipe-suppressions.yaml"))
    (root / ".secpipe").mkdir()
    import_sources([OSV_FIXTURES], root / ".secpipe" / "osv.sqlite3")
    monkeypatch.delenv("SECPIPE_OSV_DB", raising=False)
    # the served model: the example's own training script (writes data/ and artifacts/)
    subprocess.run([sys.executable, "train.py"], cwd=root, check=True, capture_output=True,
                   timeout=300)

    # 1: the scan gate fails on the code/secrets/dependency/IaC plants before anything deploys
    code, report = _run(root, capsys)
    steps = _steps(report)
    assert code == 1 and steps["scan-gate"]["status"] == "failed"
    assert "deploy" not in steps or steps["deploy"]["status"] != "passed"
    _suppress(root, _blocking(report))

    # 2: deployed, smoke-tested, scanned from outside; the deploy gate fails on the web plants
    code, report = _run(root, capsys)
    steps = _steps(report)
    deploy = steps["deploy"]
    assert deploy["status"] == "passed", deploy["message"]
    assert not [f for f in report["findings"] if f["rule_id"].startswith("deploy.")], \
        "the smoke test of /predict passed (label sqli, keys label and score)"
    pid = _deployed_pid(deploy)
    assert not _alive(pid), "the deployed app was stopped when the run ended"
    for step_id in ("dast", "ports", "host"):
        assert steps[step_id]["status"] == "passed", (step_id, steps[step_id]["message"])
    web = _web(report)
    kinds_on = {(kind, route) for kind, route, _ in web}
    # plant 11: reflected XSS in /try's payload; its twin /explain escapes it
    assert ("xss-reflected", "/try", "payload") in web, sorted(web)
    assert not {k for k in kinds_on if k[1] == "/explain" and k[0].startswith("xss")}
    # plant 12: /about lacks the security headers every other page carries
    assert {k for k in kinds_on if k[1] == "/about" and k[0] in ("missing-header", "csp")}
    for twin in ("/", "/explain", "/try", "/health"):
        assert not {k for k in kinds_on if k[1] == twin and k[0] in ("missing-header", "csp")}, \
            twin
    # plant 13: /predict/batch answers errors with the traceback; /predict answers 400
    assert ("stack-trace", "/predict/batch") in kinds_on, sorted(web)
    assert not {k for k in kinds_on if k[1] == "/predict" and
                k[0] in ("stack-trace", "ml-crash")}
    assert not {k for k in kinds_on if k[0] == "version-banner"}  # the banner is dropped
    ports = steps["ports"]
    assert ports["metrics"].get("open_ports", 0) >= 1
    assert not [f for f in report["findings"] if f["scanner"] == "scan-ports"
                and f["severity"] in ("high", "critical")], "only the app's port is open"
    gate = steps["deploy-gate"]
    assert code == 1 and gate["status"] == "failed"
    blocking = _blocking(report)
    assert any(f["rule_id"] == "web.xss-reflected" for f in blocking)
    _suppress(root, blocking)

    # 3: everything accepted on purpose: the run passes, and nothing is left running
    code, report = _run(root, capsys)
    steps = _steps(report)
    if code != 0:
        blocking = [(f["rule_id"], f["message"][:200]) for f in _blocking(report)]
        states = [(s["id"], s["status"], s["message"]) for s in report["steps"]]
        pytest.fail(f"run 3 exit {code}: {blocking} {states}")
    assert steps["deploy-gate"]["status"] == "passed"
    assert not _alive(_deployed_pid(steps["deploy"]))
