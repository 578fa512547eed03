"""One-file start-up and process hygiene of ``secpipe scan``.

A pre-commit hook starts one ``secpipe scan models FILE`` per batch of files, so what the one-file
path imports is what users wait for: these tests pin the modules it must not load (the readers of
formats the file is not in, the other scanners, the pipeline machinery). The secrets scanner's
worker pool must be gone when the process is: no process of its group outlives it, whether the
scan ends normally or is stopped by SIGTERM.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

PROBE = """
import json, sys
from secpipe.cli.main import main
code = main(sys.argv[1:])
sys.stdout.flush()
sys.__stdout__.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
sys.exit(code)
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")  # never the user's
    return env


def _modules(tmp_path: Path, *argv: str) -> set[str]:
    """The modules a fresh process has imported after ``main([*argv])``."""
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=tmp_path, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES ")))


#: never needed to scan one pickle: the readers of other formats (imported when their format is
#: met), a YAML parser, the other scanner, a worker pool, the pipeline machinery
NOT_FOR_A_PICKLE = (
    "secpipe.scanners.models.formats",
    "secpipe.scanners.models.template",
    "secpipe.scanners.models.archives",
    "secpipe.scanners.models.keras_fmt",
    "secpipe.scanners.models.hdf5",
    "secpipe.scanners.models.tf_onnx",
    "secpipe.scanners.models.configs",
    "yaml",
    "tarfile",
    "secpipe.scanners.secrets",
    "multiprocessing",
    "concurrent.futures",
    "secpipe.cli.run_cmd",
    "secpipe.pipeline.runner",
    "_hashlib",  # fingerprints use the interpreter's own SHA-256, not OpenSSL's
    "shutil", "tempfile", "bz2", "lzma",  # no file written, no compressed stream met
)


def test_one_file_models_scan_imports_only_what_the_file_needs(tmp_path: Path) -> None:
    (tmp_path / "model.pkl").write_bytes(pickle.dumps({"w": [1.0, 2.0]}))
    loaded = _modules(tmp_path, "scan", "models", "model.pkl", "-q")
    assert "secpipe.scanners.models.pickle_scan" in loaded  # the probe does see the scan
    assert sorted(loaded.intersection(NOT_FOR_A_PICKLE)) == []


#: what a one-file models scan without a project configuration does without: the settings
#: models (the options are recorded, the values plain), the sinks, the policy, the event types
#: of a console that shows none
NOT_WITHOUT_A_CONFIG = ("pydantic", "pydantic_core", "secpipe.core.settings",
                        "secpipe.scanners.base", "secpipe.scanners.models.step",
                        "secpipe.sinks", "secpipe.sinks.interface", "secpipe.policy.model",
                        "secpipe.pipeline.execute", "secpipe.pipeline.config")


@pytest.mark.parametrize("argv", [("-q",), ("--json",), ("--exclude", "x/", "-q"),
                                  ("--format", "sarif", "--output", "out.sarif")])
def test_one_file_models_scan_needs_no_settings_model(tmp_path: Path,
                                                      argv: tuple[str, ...]) -> None:
    (tmp_path / "model.pkl").write_bytes(pickle.dumps({"w": [1.0, 2.0]}))
    loaded = _modules(tmp_path, "scan", "models", "model.pkl", *argv)
    assert "secpipe.scanners.models.engine" in loaded
    assert sorted(loaded.intersection(NOT_WITHOUT_A_CONFIG)) == []
    if "-q" in argv:
        assert "secpipe.core.events" not in loaded  # a quiet console makes no event


def test_a_reader_is_imported_when_its_format_is_met(tmp_path: Path) -> None:
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    (tmp_path / "w.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 4)
    loaded = _modules(tmp_path, "scan", "models", "w.safetensors", "-q")
    assert "secpipe.scanners.models.formats" in loaded
    assert sorted(loaded.intersection(NOT_FOR_A_PICKLE[2:])) == []


def test_a_text_file_loads_no_leftover_reader(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing to report\n" * 20)
    loaded = _modules(tmp_path, "scan", "models", "notes.txt", "-q")
    assert "secpipe.scanners.models.sniff" in loaded
    left = ("secpipe.scanners.models.savedmodel", "secpipe.scanners.models.configs", "yaml")
    assert sorted(loaded.intersection(left)) == []


def test_one_file_secrets_scan_starts_no_pool(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing to report\n")
    loaded = _modules(tmp_path, "scan", "secrets", "notes.txt", "-q")
    assert "secpipe.scanners.secrets.step" in loaded
    gone = {"multiprocessing", "concurrent.futures", "secpipe.scanners.models.engine",
            "secpipe.cli.run_cmd"}
    assert sorted(loaded & gone) == []


def _group(pgid: int) -> list[int]:
    """Processes (zombies included) whose process group is ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        if int(fields[2]) == pgid:
            found.append(int(entry.name))
    return found


def _tree(root: Path) -> Path:
    """A tree large enough for the secrets scanner to start its worker pool (16 MiB)."""
    tree = root / "tree"
    tree.mkdir()
    chunk = ("x = 'nothing to see here'  # filler line of a source file\n" * 1024).encode()
    for i in range(48):
        (tree / f"f{i:02}.py").write_bytes(chunk * 7)  # 48 x 399 KiB ~ 18.7 MiB
    return tree


def _scan(tree: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "secpipe", "scan", "secrets", str(tree), "-q", "--workers", "2",
         "--no-cache"],
        cwd=tree.parent, env=_env(tree.parent), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_pool_workers_are_reaped_when_the_scan_ends(tmp_path: Path) -> None:
    proc = _scan(_tree(tmp_path))
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert _group(proc.pid) == []  # nothing of the scan's process group outlives it


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize(("signum", "group", "code"), [
    (signal.SIGTERM, False, 143),  # a supervisor stopping its child (CI cancel, timeout)
    (signal.SIGINT, True, 130),  # Ctrl-C: the terminal signals the whole foreground group
])
def test_pool_workers_are_reaped_when_stopped(tmp_path: Path, signum: int, group: bool,
                                              code: int) -> None:
    proc = _scan(_tree(tmp_path))
    deadline = time.monotonic() + 60
    while len(_group(proc.pid)) < 3 and proc.poll() is None:  # secpipe and its workers
        assert time.monotonic() < deadline, "the pool never started"
        time.sleep(0.02)
    assert proc.poll() is None, "the scan ended before it could be stopped"
    if group:
        os.killpg(proc.pid, signum)
    else:
        os.kill(proc.pid, signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert b"Traceback" not in err  # the workers left Ctrl-C to secpipe
    assert _group(proc.pid) == []
