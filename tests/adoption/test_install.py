"""``pip install secpipe`` with no extras: the CLI works, and a command that needs an extra says
which one (exit 2). The optional packages are refused by a ``sys.meta_path`` finder in a child
interpreter, as if they were not installed. ``scripts/check-wheel.sh`` (``make test``) checks the
same on the built wheel in a clean virtual environment.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from secpipe.cli.main import COMMANDS
from secpipe.core.errors import EXTRA_CORE, EXTRA_MODULES, ConfigError, MissingExtra, extra_of
from secpipe.core.registry import BUILTIN_STEPS, KIND_EXTRAS

ROOT = Path(__file__).resolve().parents[2]
OPTIONAL = sorted({name for names in EXTRA_MODULES.values() for name in names})

#: run in the child before secpipe: every optional module raises ModuleNotFoundError on import
BLOCKER = f"""
import importlib.abc, sys
BLOCKED = {OPTIONAL!r}
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Refuse())
for name in list(sys.modules):
    if name.partition(".")[0] in BLOCKED:
        del sys.modules[name]
from secpipe.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def secpipe_bare(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``secpipe ARGV`` as a core-only install runs it."""
    return subprocess.run([sys.executable, "-c", BLOCKER, *argv], cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False)


def _pyproject() -> dict[str, list[str]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras: dict[str, list[str]] = data["project"]["optional-dependencies"]
    return extras


def test_the_all_extra_installs_every_runtime_extra() -> None:
    extras = _pyproject()
    runtime = set(extras) - {"all", "dev", "test", "example"}
    assert extras["all"] == [f"secpipe[{','.join(sorted(runtime, key=list(extras).index))}]"]
    assert set(EXTRA_MODULES) == runtime  # every module maps to an extra pip can install
    assert set(EXTRA_CORE) <= runtime and set(KIND_EXTRAS.values()) <= runtime
    assert set(KIND_EXTRAS) <= set(BUILTIN_STEPS)
    assert not any("torch" in req for reqs in extras.values() for req in reqs)


def test_a_missing_module_is_named_by_its_extra() -> None:
    assert extra_of("cryptography.hazmat.primitives") == "provenance"
    assert extra_of("sklearn") == "ml" and extra_of("h5py") == "models"
    assert extra_of("secpipe.core") is None and extra_of(None) is None
    missing = MissingExtra("secpipe sign", "provenance")
    assert isinstance(missing, ConfigError) and missing.exit_code == 2
    assert missing.message == ("secpipe sign needs the 'provenance' extra: "
                               "pip install 'secpipe[provenance]'")


@pytest.mark.slow
def test_every_command_helps_without_the_optional_packages(tmp_path: Path) -> None:
    version = secpipe_bare("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("secpipe "), version.stderr
    top = secpipe_bare("--help", cwd=tmp_path)
    assert top.returncode == 0 and "sign" in top.stdout, top.stderr
    for command in [*COMMANDS, "scan models", "scan secrets", "store push"]:
        done = secpipe_bare(*command.split(), "--help", cwd=tmp_path)
        assert done.returncode == 0, f"{command} --help: {done.stderr}"
        assert done.stdout.startswith("usage: secpipe "), command


@pytest.mark.slow
def test_core_commands_run_and_extra_commands_name_their_extra(tmp_path: Path) -> None:
    steps = secpipe_bare("steps", cwd=tmp_path)
    assert steps.returncode == 0, steps.stderr
    sign_line = next(x for x in steps.stdout.splitlines() if x.split()[:1] == ["sign"])
    assert "pip install 'secpipe[provenance]'" in sign_line
    (tmp_path / "app.py").write_text("print('hello')\n")
    scan = secpipe_bare("scan", "secrets", ".", "-q", "--no-cache", cwd=tmp_path)
    assert scan.returncode == 0, scan.stderr
    models = secpipe_bare("scan", "models", ".", "-q", cwd=tmp_path)
    assert models.returncode == 0, models.stderr
    for command in ("sign", "verify"):
        done = secpipe_bare(command, "app.py", cwd=tmp_path)
        assert done.returncode == 2
        assert done.stderr == (f"secpipe: error: secpipe {command} needs the 'provenance' "
                               "extra: pip install 'secpipe[provenance]'\n")


@pytest.mark.slow
def test_a_pipeline_using_a_kind_whose_extra_is_missing_fails_its_validation(
        tmp_path: Path) -> None:
    (tmp_path / "secpipe.yaml").write_text(
        "pipelines:\n  release:\n    stages:\n      - name: sign\n        steps:\n"
        "          - uses: sign\n")
    done = secpipe_bare("run", "release", cwd=tmp_path)
    assert done.returncode == 2
    assert "step kind 'sign' needs the 'provenance' extra" in done.stderr
    assert "secpipe[provenance]" in done.stderr
    assert "internal error" not in done.stderr


def test_scan_models_names_the_files_it_found_as_typed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import pickle

    from secpipe.cli.main import main

    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "clf.pkl").write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    monkeypatch.chdir(tmp_path)
    assert main(["scan", "models", "models/clf.pkl", "-q"]) == 0
    assert "1 model file(s) (models/clf.pkl) among 1 file(s)" in capsys.readouterr().out
    assert main(["scan", "models", "models/clf.pkl", "-f", "json"]) == 0
    step = json.loads(capsys.readouterr().out)["steps"][0]
    assert "(models/clf.pkl)" in step["message"]
