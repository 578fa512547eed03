"""`secpipe sign`, `secpipe verify` and `secpipe store`, in-process."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pipeline_helpers import run_pipeline, use_fakes, write_project

from secpipe.cli.main import main
from secpipe.keys.signers import default_key_path


@pytest.fixture
def model(project: Path) -> Path:
    root = project / "model"
    root.mkdir()
    (root / "weights.bin").write_bytes(os.urandom(50_000))
    (root / "config.json").write_text("{}")
    return root


def test_sign_then_verify_a_folder(project: Path, model: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sign", str(model), "-C", str(project), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["files"] == 2 and Path(out["signature"]) == project / "model.sig"
    assert main(["verify", str(model), "-C", str(project)]) == 0
    assert "2 file(s) match the signature" in capsys.readouterr().out
    (model / "config.json").write_text('{"evil": 1}')
    assert main(["verify", str(model), "-C", str(project)]) == 1
    assert "config.json differs from its signed digest" in capsys.readouterr().out


def test_verify_without_signature_or_with_other_key(project: Path, model: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sign", str(model), "-C", str(project), "-q"]) == 0
    assert main(["sign", str(model), "-C", str(project), "--key", "other.pem",
                 "-o", str(project / "other.sig")]) == 0
    capsys.readouterr()
    assert main(["verify", str(model), "-C", str(project), "--signature",
                 str(project / "other.sig")]) == 1
    assert "different key" in capsys.readouterr().out
    assert main(["verify", str(model), "-C", str(project), "--signature",
                 str(project / "none.sig")]) == 1
    assert "does not exist" in capsys.readouterr().out


def test_group_readable_key_exits_2_with_a_clear_error(project: Path, model: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sign", str(model), "-C", str(project)]) == 0
    default_key_path().chmod(0o644)
    assert main(["sign", str(model), "-C", str(project)]) == 2
    assert "readable by group or others" in capsys.readouterr().err


def test_sign_with_run_attests_it_and_verify_checks_the_policy(
        project: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    use_fakes(monkeypatch)
    write_project(project)
    run_pipeline(project, "ml")
    (project / "m.bin").write_bytes(b"model bytes")
    assert main(["sign", str(project / "m.bin"), "-C", str(project), "--run", "latest"]) == 0
    attestation = project / "m.bin.intoto.json"
    assert attestation.is_file()
    capsys.readouterr()
    args = ["verify", str(project / "m.bin"), "-C", str(project), "--attestation",
            str(attestation)]
    assert main([*args, "--policy", "scan-models passed", "--policy", "gates passed"]) == 0
    assert main([*args, "--policy", "scan-code passed"]) == 1
    assert "no step scan-code ran" in capsys.readouterr().out
    assert main([*args, "--policy", "scan-models is ok"]) == 2


def test_store_list_pull_and_verify_a_published_run(
        project: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    use_fakes(monkeypatch)
    write_project(project)
    _, record, _ = run_pipeline(project, "ml")
    assert main(["store", "list", "--pipeline", "ml", "-C", str(project)]) == 0
    assert f"{record.run_id}  5 file(s)  signed" in capsys.readouterr().out
    dest = project.parent / "pulled"
    assert main(["store", "pull", "latest", str(dest), "--pipeline", "ml", "-C",
                 str(project)]) == 0
    assert (dest / "model" / "model.skops").is_file()
    assert main(["verify", "--run", "latest", "--pipeline", "ml", "-C", str(project),
                 "--policy", "scan-models passed"]) == 0
    stored = project / ".secpipe" / "store" / "ml" / record.run_id / "files" / "model.sig"
    stored.write_text(stored.read_text().replace('"sig": "', '"sig": "AAAA'))
    capsys.readouterr()
    assert main(["verify", "--run", "latest", "--pipeline", "ml", "-C", str(project)]) == 2
    assert "artifact model.sig" in capsys.readouterr().err


def test_store_push_publishes_a_recorded_run_elsewhere(
        project: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    use_fakes(monkeypatch)
    write_project(project)
    _, record, _ = run_pipeline(project, "ml")
    other = project.parent / "other-store"
    assert main(["store", "push", record.run_id, "--store", str(other), "-C",
                 str(project)]) == 0
    assert (other / "ml" / record.run_id / "manifest.json").is_file()
    assert main(["store", "push", record.run_id, "--store", str(other), "-C",
                 str(project)]) == 2
    assert "already published" in capsys.readouterr().err
