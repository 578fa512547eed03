"""Done-when of the provenance issue on the example project: `secpipe run mlsecops` ends with a
signed, attested model in the store; `secpipe run devsecops` loads and verifies it; flipping one
byte of the stored model makes the DevSecOps load fail."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from secpipe.cli.main import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "request-classifier"


@pytest.mark.slow
def test_example_mlsecops_signs_and_stores_then_devsecops_loads_and_verifies(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], osv_database: Path) -> None:
    root = tmp_path / "request-classifier"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(
        ".secpipe", "data", "artifacts", "__pycache__", ".secpipe-suppressions.yaml"))
    (root / ".secpipe").mkdir()  # the example's own OSV database, as the demo fills it
    shutil.copy(osv_database, root / ".secpipe" / "osv.sqlite3")
    # this test is about the model's provenance: devsecops' deploy stage (the app served and
    # scanned, tests/test_example_deploy_e2e.py) is left unconfigured here, so it skips
    config = (root / "secpipe.yaml").read_text()
    start = config.index("\n  deploy:")
    end = config.index("\n  scan-secrets:", start)
    (root / "secpipe.yaml").write_text(config[:start] + config[end:])
    subprocess.run([sys.executable, str(root / "build_dataset.py"), "--out", str(root / "data")],
                   check=True, capture_output=True)
    assert main(["run", "mlsecops", "-C", str(root), "-q", "--json"]) == 1  # the planted secret
    for leak in json.loads(capsys.readouterr().out)["findings"]:
        if leak["severity"] in ("high", "critical"):  # the plants (README: deliberate)
            assert main(["suppress", leak["fingerprint"], "--reason", "planted on purpose",
                         "-C", str(root)]) == 0
    capsys.readouterr()

    assert main(["run", "mlsecops", "-C", str(root), "-q", "--json"]) == 0
    ml = json.loads(capsys.readouterr().out)
    run_id = ml["run"]["id"]
    steps = {s["id"]: s for s in ml["steps"]}
    assert steps["sign-model"]["status"] == "passed"
    assert "(signed model)" in steps["store-model"]["message"]
    published = root / ".secpipe" / "store" / "mlsecops" / run_id
    manifest = json.loads((published / "manifest.json").read_text())
    assert manifest["signed"]["attestation"] == "attestation.dsse.json"

    assert main(["run", "devsecops", "-C", str(root), "-q", "--json"]) == 1  # IaC plants 8-10
    iac = [f for f in json.loads(capsys.readouterr().out)["findings"]
           if f["scanner"] == "scan-iac" and f["severity"] in ("high", "critical")]
    assert len(iac) == 3
    for planted in iac:
        assert main(["suppress", planted["fingerprint"], "--reason", "planted on purpose",
                     "-C", str(root)]) == 0
    capsys.readouterr()
    assert main(["run", "devsecops", "-C", str(root), "-q", "--json"]) == 0
    dev = {s["id"]: s for s in json.loads(capsys.readouterr().out)["steps"]}
    assert "signature verified" in dev["load-model"]["message"]
    assert dev["deploy"]["status"] == "skipped" and "not configured" in dev["deploy"]["message"]

    model = published / "files" / manifest["signed"]["model"]
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    assert main(["run", "devsecops", "-C", str(root), "-q", "--json"]) == 2
    dev = {s["id"]: s for s in json.loads(capsys.readouterr().out)["steps"]}
    assert dev["load-model"]["status"] == "error"
    assert f"artifact {manifest['signed']['model']}" in dev["load-model"]["message"]
