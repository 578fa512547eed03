"""``secpipe init``'s detection (``secpipe.project_scan``): formats by magic bytes, IaC by the safe
YAML loader, bounds, links, the questions on a terminal, ``.gitignore`` edits."""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import pytest

from secpipe.cli.init_cmd import ask_choices
from secpipe.cli.main import main
from secpipe.pipeline.config import load_project
from secpipe.project_scan import default_choices, scan_project
from secpipe.project_scan import walk as walk_mod
from secpipe.project_scan.gitignore import ensure_ignored


def _put(root: Path, rel: str, content: bytes | str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)


def test_model_formats_from_magic_bytes(project: Path) -> None:
    header = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    _put(project, "m/a.pkl", b"\x80\x04\x95" + b"\x00" * 10)
    _put(project, "m/b.pt", b"PK\x03\x04rest")
    _put(project, "m/c.h5", b"\x89HDF\r\n\x1a\n....")
    _put(project, "m/d.gguf", b"GGUF\x03\x00")
    _put(project, "m/e.safetensors", struct.pack("<Q", len(header)) + header + b"\0" * 4)
    _put(project, "m/f.pkl", "version https://git-lfs.github.com/spec/v1\noid sha256:00\n")
    _put(project, "m/g.onnx", b"\x08\x07\x12\x04onnx")
    formats = {m.path: m.format for m in scan_project(project).models}
    assert formats == {"m/a.pkl": "pickle", "m/b.pt": "pytorch zip", "m/c.h5": "hdf5",
                       "m/d.gguf": "gguf", "m/e.safetensors": "safetensors",
                       "m/f.pkl": "lfs pointer", "m/g.onnx": "onnx"}
    assert default_choices(scan_project(project)).sign_model != "m/f.pkl"


def test_iac_containers_requirements(project: Path) -> None:
    _put(project, "k8s/deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {}\n")
    _put(project, "k8s/multi.yml", "# c\n---\nfoo: 1\n---\napiVersion: v1\nkind: Service\n")
    _put(project, "config.yaml", "apiVersionX: 1\nkind: nope\n")
    _put(project, "helm/templates/x.yaml", "apiVersion: v1\nkind: {{ .Values.kind }\n")
    _put(project, "infra/main.tf", 'resource "aws_s3_bucket" "b" {}\n')
    _put(project, "cfn.yaml", "AWSTemplateFormatVersion: '2010-09-09'\nResources: {}\n")
    _put(project, "docker/Dockerfile.prod", "FROM scratch\n")
    _put(project, "compose.yaml", "services: {}\n")
    _put(project, "requirements/dev.txt", "pytest\n")
    _put(project, "poetry.lock", "")
    _put(project, "notes.txt", "not a requirement\n")
    scan = scan_project(project)
    assert scan.iac == ("cfn.yaml", "infra/main.tf", "k8s/deploy.yaml", "k8s/multi.yml")
    assert scan.containers == ("compose.yaml", "docker/Dockerfile.prod")
    assert scan.requirements == ("poetry.lock", "requirements/dev.txt")


def test_links_and_skipped_folders_are_not_followed(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    _put(outside, "secret.pkl", b"\x80\x04.")
    os.symlink(outside, project / "linked")
    os.symlink(outside / "secret.pkl", project / "model.pkl")
    for skipped in (".git", ".venv", "node_modules", ".secpipe"):
        _put(project, f"{skipped}/m.pkl", b"\x80\x04.")
    assert scan_project(project).models == ()


def test_bounds_are_reported(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(5):
        _put(project, f"f{i}.py", "x = 1\n" * 100)
    monkeypatch.setattr(walk_mod, "MAX_FILES", 3)
    scan = scan_project(project)
    assert scan.files_seen == 3 and scan.truncated == ("more than 3 files",)
    monkeypatch.setattr(walk_mod, "MAX_FILES", 100)
    monkeypatch.setattr(walk_mod, "MAX_BYTES", 700)
    scan = scan_project(project)
    assert scan.truncated == ("more than 700 bytes read",)
    assert main(["init", "-C", str(project), "--yes"]) == 0
    assert "# The scan stopped early" in (project / "secpipe.yaml").read_text()


def test_training_needs_a_builder_and_an_obvious_label(project: Path) -> None:
    _put(project, "train_model.py", "model.fit(X, y)\n")
    _put(project, "data.csv", "a,b,outcome\n1,2,yes\n")
    plan = default_choices(scan_project(project))
    assert plan.train is None and "no function returns the estimator" in plan.train_why
    _put(project, "train_model.py", "def build_model(seed=0):\n    return None\n")
    _put(project, "data.csv", "a,b,c\n1,2,3\n")
    plan = default_choices(scan_project(project))
    assert plan.train is None and "obvious label" in plan.train_why
    _put(project, "data.csv", "a,b,Outcome\n1,2,yes\n")
    plan = default_choices(scan_project(project))
    assert plan.train is not None
    assert (plan.train.estimator, plan.train.target) == ("train_model.py:build_model", "Outcome")


def test_nothing_found_is_the_general_template(project: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "-C", str(project), "-q"]) == 0
    assert capsys.readouterr().out == ""
    text = (project / "secpipe.yaml").read_text()
    assert "found no model" in text and "sign:" not in text.split("defaults:")[1].split("#")[0]
    cfg = load_project(project).config
    assert cfg.policy.require == ["scan-secrets"] and "scan-secrets" in cfg.defaults


def test_existing_config_name_is_kept(project: Path) -> None:
    _put(project, ".secpipe.yaml", "version: 1\n")
    assert main(["init", "-C", str(project), "-q"]) == 2
    assert main(["init", "-C", str(project), "-q", "--force"]) == 0
    assert not (project / "secpipe.yaml").exists()
    load_project(project)


@pytest.mark.parametrize("existing", [".secpipe", "/.secpipe/", ".secpipe/**"])
def test_gitignore_entry_already_there(project: Path, existing: str) -> None:
    _put(project, ".gitignore", f"x\n{existing}\n")
    assert ensure_ignored(project) == ".gitignore already ignores .secpipe/"
    assert (project / ".gitignore").read_text() == f"x\n{existing}\n"


def test_gitignore_link_left_alone(project: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("a\n")
    os.symlink(target, project / ".gitignore")
    assert "left .gitignore alone" in ensure_ignored(project)
    assert target.read_text() == "a\n"


def test_interactive_questions(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _put(project, "serve.py", "load('models/a.joblib')\n")
    _put(project, "models/a.joblib", b"\x80\x04.")
    _put(project, "models/b.onnx", b"\x08\x07")
    _put(project, "train.py", "def build_estimator(seed=0):\n    return None\n")
    _put(project, "data/train.csv", "text,label\nx,1\n")
    asked: list[str] = []
    answers = iter([False, True, False])

    def ask(question: str, default: bool) -> bool:
        asked.append(question)
        return next(answers)

    choices = ask_choices(scan_project(project), ask)
    assert asked[0].startswith("Sign models/a.joblib (the app's code names it: serve.py)")
    assert asked[1].startswith("Sign models/b.onnx") and asked[2].startswith("Train train.py")
    assert choices.sign_model == "models/b.onnx" and choices.train is None


class _Terminal:
    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        return self.answers.pop(0) if self.answers else ""  # end of input: the default


def test_terminal_asks_and_yes_does_not(project: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    _put(project, "app.py", "open('model.safetensors')\n")
    _put(project, "model.safetensors", struct.pack("<Q", 2) + b"{}")
    monkeypatch.setattr("sys.stdin", _Terminal("n\n"))
    assert main(["init", "-C", str(project)]) == 0
    captured = capsys.readouterr()
    assert "Sign model.safetensors" in captured.err
    assert "sign: no model chosen (none chosen at `secpipe init`)" in captured.out
    assert "sign" not in load_project(project).config.defaults
    monkeypatch.setattr("sys.stdin", _Terminal())
    for flags in (["--yes"], ["-q"], ["--json"], []):
        if not flags:  # no flag, but standard input is not a terminal: nobody to ask
            monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
        assert main(["init", "-C", str(project), "--force", *flags]) == 0
        assert capsys.readouterr().err == ""
        assert load_project(project).config.defaults["sign"]["model"] == "model.safetensors"
