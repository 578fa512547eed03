"""Done-when of the foundation: `secpipe run mlsecops` on the example finds the planted secret and
exits 1 at the gate; after a suppression with a reason it exits 0; the reports render."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from secpipe.cli.main import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "request-classifier"


def with_osv_data(root: Path, database: Path) -> None:
    """The example's own OSV database (its secpipe.yaml names it), filled as the demo fills it:
    from the fixture set (here: the copy the test session imported once)."""
    (root / ".secpipe").mkdir(exist_ok=True)
    shutil.copy(database, root / ".secpipe" / "osv.sqlite3")


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory, osv_database: Path) -> Path:
    root = tmp_path_factory.mktemp("e2e") / "request-classifier"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".secpipe", "data", "artifacts",
                                                                  "__pycache__"))
    with_osv_data(root, osv_database)
    subprocess.run([sys.executable, str(root / "build_dataset.py"), "--out", str(root / "data")],
                   check=True, capture_output=True)
    return root


@pytest.mark.slow
def test_mlsecops_on_example_fails_on_planted_secret_then_passes_after_suppression(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "mlsecops", "-C", str(example), "-q", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    leaks = [f for f in report["findings"] if f["scanner"] == "scan-secrets"]
    assert len(leaks) == 1, [(f["rule_id"], f["location"]) for f in leaks]
    leak = leaks[0]
    assert "huggingface" in leak["rule_id"]
    assert leak["location"]["path"] == "notebooks/explore.ipynb"
    assert "outputs" in leak["location"]["member"]
    assert "hf_" in leak["evidence"] and "*" in leak["evidence"]
    gate = next(s for s in report["steps"] if s["kind"] == "gate")
    assert gate["status"] == "failed"

    # the code scan: the model loaded from a URL the request names (README plant 6)
    loads = [f for f in report["findings"] if f["rule_id"] == "code.pickle-deserialization"
             and f["location"]["path"] == "app/serve.py" and f["severity"] == "critical"]
    assert len(loads) == 1 and "requests.get" in loads[0]["message"], loads
    # the dependency scan: the vulnerable pin, its advisory and fixed version (README plant 7)
    pins = [f for f in report["findings"] if f["rule_id"] == "deps.vulnerable"
            and f["location"]["path"] == "requirements.txt"]
    pin = next(f for f in pins if "GHSA-9wx4-h78v-vm56" in f["message"])
    assert "requests 2.31.0" in pin["message"] and "fixed in 2.32.0" in pin["message"]
    deps = next(s for s in report["steps"] if s["kind"] == "scan-deps")
    assert "OSV data loaded" in deps["message"]  # the data's age, in every result

    # nothing of the secret in clear in the run store
    token_line = next(line for cell in json.loads(
        (example / "notebooks" / "explore.ipynb").read_text())["cells"]
        for out in cell.get("outputs", []) for line in out.get("text", [])
        if "HF_TOKEN=" in line)
    token = token_line.split("HF_TOKEN=", 1)[1].split()[0]
    assert token.encode() not in (example / ".secpipe" / "runs.db").read_bytes()

    for planted in (leak, loads[0]):
        assert main(["suppress", planted["fingerprint"], "--reason", "planted on purpose (README)",
                     "-C", str(example)]) == 0
    capsys.readouterr()
    code = main(["run", "mlsecops", "-C", str(example), "-q", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, [s for s in report["steps"] if s["status"] != "passed"]

    for fmt in ("json", "sarif", "markdown", "html"):
        out = example / f"report.{fmt}"
        assert main(["report", "latest", "-C", str(example), "--format", fmt, "-o", str(out)]) == 0
        text = out.read_text()
        assert token not in text
        assert len(text) > 200


@pytest.mark.slow
def test_mlsecops_model_gate_catches_pickles_and_planted_malicious_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], osv_database: Path
) -> None:
    root = tmp_path / "request-classifier"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".secpipe", "data", "artifacts",
                                                                  "models", "__pycache__"))
    with_osv_data(root, osv_database)
    for script in ("build_dataset.py", "train.py", "plant_malicious_model.py"):
        subprocess.run([sys.executable, str(root / script)], check=True, capture_output=True,
                       cwd=root)
    assert main(["suppress", "--rule", "secrets.huggingface-token", "--path",
                 "notebooks/explore.ipynb", "--reason", "planted demo token",
                 "-C", str(root)]) == 0
    assert main(["suppress", "--rule", "code.pickle-deserialization", "--path", "app/serve.py",
                 "--reason", "planted unsafe loads (README)", "-C", str(root)]) == 0
    capsys.readouterr()
    assert main(["run", "mlsecops", "-C", str(root), "-q", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    gate = next(s for s in report["steps"] if s["id"] == "model-gate")
    assert gate["status"] == "failed"
    assert not any(s["kind"] == "sign" for s in report["steps"])  # nothing unsafe gets signed
    models = [f for f in report["findings"] if f["scanner"] == "scan-models"]
    planted = [f for f in models if f["location"]["path"] == "models/encoder-finetuned.bin"
               and f["severity"] == "critical"]
    assert planted and planted[0]["properties"]["callable"] == "posix.system"
    pickled = {f["location"]["path"] for f in models
               if f["rule_id"] == "models.pickle.unsafe-format"}
    assert {"artifacts/model.pkl", "artifacts/tokenizer.pkl",
            "artifacts/label_encoder.pkl"} <= pickled


@pytest.mark.slow
def test_devsecops_iac_scan_flags_planted_misconfigurations_not_lookalikes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], osv_database: Path
) -> None:
    """README plants 8-10 are reported by scan-iac in devsecops' scan stage, and the safe
    look-alikes beside them are not (no finding of any rule about those concerns)."""
    example = tmp_path / "request-classifier"  # a fresh copy: no model published yet
    shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns(".secpipe", "data",
                                                                     "artifacts", "__pycache__"))
    with_osv_data(example, osv_database)
    capsys.readouterr()
    code = main(["run", "devsecops", "-C", str(example), "-q", "--json"])
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert code == 1, (err, [(s["id"], s["status"], s["message"]) for s in report["steps"]])
    iac = next(s for s in report["steps"] if s["kind"] == "scan-iac")
    assert iac["status"] == "passed" and iac["metrics"]["files_scanned"] == 4
    found = [(f["rule_id"], f["location"]["path"], f["message"]) for f in report["findings"]
             if f["scanner"] == "scan-iac"]
    rules = {(r, p) for r, p, _ in found}
    # plant 8: curl | sh in the build stage
    assert ("iac.docker.remote-script-exec", "Dockerfile") in rules
    # plant 9: the privileged sidecar, named
    assert any(r == "iac.k8s.privileged" and "metrics-exporter" in m for r, _, m in found)
    assert not any(r == "iac.k8s.privileged" and "container classifier" in m
                   for r, _, m in found)
    # plant 10: SSH from var.ssh_cidr's default, 0.0.0.0/0
    ssh = [m for r, p, m in found if r == "iac.aws.sg-open-admin-port"]
    assert len(ssh) == 1 and "port 22" in ssh[0]
    # look-alikes: no root-user finding (distroless nonroot; pod-level runAsNonRoot), no secret
    # in the build (secret mount, ${VAR} in Compose), no S3 encryption / public-access finding
    # (separate resources), nothing on 443 or on the loopback-bound Postgres, nothing at all on
    # the Compose file
    assert not any(r in ("iac.docker.root-user", "iac.k8s.run-as-root") for r, _ in rules)
    assert not any("secret" in r for r, _ in rules)
    assert not any(r.startswith(("iac.aws.s3-encryption", "iac.aws.s3-public"))
                   for r, _ in rules)
    assert not any("port 443" in m for _, _, m in found)
    assert not any(p == "docker-compose.yml" for _, p in rules)
    assert not any(r.startswith("iac.") and r.count(".") == 1 for r, _ in rules), found
