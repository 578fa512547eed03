"""The scan-models step, its registration, the CLI and the mlsecops pipeline wiring."""

from __future__ import annotations

import json
import pickle
import threading
from pathlib import Path

import pytest
from models_helpers import system_call, torch_data_pkl, torch_zip

from secpipe.cli.main import main
from secpipe.core.registry import load_kind
from secpipe.core.results import StepStatus
from secpipe.core.step import StepContext
from secpipe.pipeline.builtin import builtin_pipeline
from secpipe.scanners.models.step import ModelScanSettings, ModelScanStep


def _project(root: Path) -> Path:
    (root / "models").mkdir()
    (root / "models" / "weights.bin").write_bytes(system_call())
    torch_zip(root / "models" / "ok.pt", torch_data_pkl())
    (root / "data.pkl").write_bytes(pickle.dumps({"a": [1, 2]}, protocol=4))
    (root / "train.py").write_text("print('hi')\n")
    for hidden in (".venv/lib", ".git/objects", ".secpipe/runs"):
        (root / hidden).mkdir(parents=True)
        (root / hidden / "evil.pkl").write_bytes(system_call())
    return root


def test_step_finds_models_by_content_and_respects_excludes(project: Path) -> None:
    _project(project)
    seen: list[tuple[int, int | None, str]] = []
    ctx = StepContext(project_root=project, workdir=project / ".secpipe" / "w",
                      progress=lambda d, t, w: seen.append((d, t, w)))
    result = ModelScanStep().run(ctx, ModelScanSettings())
    assert result.status is StepStatus.PASSED
    paths = {f.location.path for f in result.findings if f.severity.value != "info"}
    assert paths == {"models/weights.bin"}
    notes = {f.location.path for f in result.findings if f.rule_id.endswith("unsafe-format")}
    assert notes == {"models/weights.bin", "models/ok.pt", "data.pkl"}
    assert result.metrics["files_scanned"] == 4
    assert result.metrics["models_found"] == 3
    assert seen and seen[-1][0] == seen[-1][1] == 4


def test_step_extra_allow_and_cancel(project: Path) -> None:
    _project(project)
    ctx = StepContext(project_root=project, workdir=project)
    allowed = ModelScanStep().run(ctx, ModelScanSettings(allow=["os.system"]))
    assert {f.severity.value for f in allowed.findings} == {"info"}
    cancel = threading.Event()
    cancel.set()
    ctx = StepContext(project_root=project, workdir=project, cancel=cancel)
    assert ModelScanStep().run(ctx, ModelScanSettings()).status is StepStatus.ERROR


def test_settings_reject_unknown_keys() -> None:
    with pytest.raises(ValueError, match="bogus"):
        ModelScanSettings.model_validate({"bogus": 1})


def test_registered_and_in_mlsecops() -> None:
    assert load_kind("scan-models") is ModelScanStep
    spec = builtin_pipeline("mlsecops")
    assert spec is not None
    dumped = json.dumps(spec.model_dump(mode="json"))
    assert "scan-models" in dumped


def test_cli_scan_models(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _project(project)
    rc = main(["scan", "models", str(project / "models"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1
    found = out["findings"]
    assert any(f["properties"].get("callable") == "os.system" for f in found)
    assert main(["scan", "models", str(project / "models" / "ok.pt"), "--fail-on", "low"]) == 0


def test_step_scans_what_earlier_steps_of_the_run_wrote(project: Path) -> None:
    run_dir = project / ".secpipe" / "runs" / "r1"
    (run_dir / "train" / "out").mkdir(parents=True)
    (run_dir / "train" / "out" / "model.bin").write_bytes(system_call())
    (run_dir / "models").mkdir()
    ctx = StepContext(project_root=project, workdir=run_dir / "models", run_id="r1")
    result = ModelScanStep().run(ctx, ModelScanSettings())
    paths = {f.location.path for f in result.findings if f.severity.value == "critical"}
    assert paths == {".secpipe/runs/r1/train/out/model.bin"}
    off = ModelScanStep().run(ctx, ModelScanSettings(run_outputs=False))
    assert off.findings == ()
