"""``secpipe scan models``'s plain path gives what the model's path gives, without pydantic.

The plain path (recorded options, plain values, :func:`secpipe.core.guard.guarded`) and the
model's path (the scanner's pydantic settings, ``run_guarded``) are run as whole processes on the
same files: the model-scanner benchmark's malicious corpus (written by its generator, byte by
byte, nothing loaded) and benign files built here. ``-c FILE`` (a configuration named) sends a
scan down the model's path, so each comparison is one command with and without it. Findings,
messages, exit codes, JSON and the console table must be identical but for timings; the plain
run must not have imported pydantic, the sinks, the policy or the pipeline machinery.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
GENERATOR = ROOT / "benchmarks" / "models" / "gen_corpus.py"

PROBE = """
import json, sys
from secpipe.cli.main import main
code = main(sys.argv[1:])
sys.stdout.flush()
sys.__stdout__.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
sys.exit(code)
"""

#: never imported by the plain path (each one is, by the model's path); a YAML parser is
#: imported only for a file that needs it (a config in a model folder), so it is checked on one
#: pickle in tests/cli/test_startup.py
NOT_ON_THE_PLAIN_PATH = ("pydantic", "secpipe.sinks", "secpipe.policy", "secpipe.pipeline",
                         "secpipe.scanners.models.step", "secpipe.scanners.base",
                         "secpipe.core.settings")


def _run(cwd: Path, *argv: str) -> tuple[int, str, str, set[str]]:
    """Exit code, standard output (without the probe's line), standard error, modules."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("SECPIPE_CONFIG", None)
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    out, _, mods = proc.stdout.rpartition("\nMODULES ")
    return proc.returncode, out, proc.stderr, set(json.loads(mods))


FINGERPRINT = re.compile(r"\b[0-9a-f]{32}\b")


def _both(cwd: Path, *argv: str) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """The command on the plain path and on the model's path; checks which path each took.

    The model's path runs twice: a fingerprint that differs between those two runs is not
    stable from run to run (a bug of its own, outside the paths compared here: the Keras
    reader keys one finding on ``id()``), so it is masked, wherever it appears, in all three
    outputs; a stable one is compared as it is."""
    code, out, err, mods = _run(cwd, *argv)
    assert sorted(m for m in mods if m.startswith(NOT_ON_THE_PLAIN_PATH)) == []
    config = cwd.parent / "not-read.yaml"  # named, so the model's path is taken; never read
    full_code, full_out, full_err, full_mods = _run(cwd, *argv, "-c", str(config))
    assert "pydantic" in full_mods
    assert "secpipe.scanners.models.step" in full_mods
    again = _run(cwd, *argv, "-c", str(config))[1]
    stable = set(FINGERPRINT.findall(full_out)) & set(FINGERPRINT.findall(again))

    def mask(text: str) -> str:
        return FINGERPRINT.sub(lambda m: m[0] if m[0] in stable else "<unstable>", text)

    return (code, mask(out), err), (full_code, mask(full_out), full_err)


def _timeless_json(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text)
    for key in ("id", "started", "finished"):
        doc["run"].pop(key)
    for step in doc["steps"]:
        step.pop("started")
        step.pop("duration")
        step["metrics"].pop("seconds")
    return doc


def _timeless(text: str) -> str:
    return re.sub(r"\(\d+\.\d\ds\)$", "(N s)", text, flags=re.MULTILINE)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The benchmark's malicious model files plus benign ones, under ``corpus/``."""
    base = tmp_path_factory.mktemp("fastpath")
    out = base / "corpus"
    proc = subprocess.run([sys.executable, str(GENERATOR), str(out), "--no-benign",
                           "--tf-python", str(base / "no-tensorflow")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    benign = out / "benign"
    benign.mkdir()
    (benign / "state.pkl").write_bytes(pickle.dumps({"w": [0.5] * 16, "name": "demo"}, 4))
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    (benign / "w.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(8))
    npy = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
    npy += b" " * (63 - len(npy) - 10) + b"\n"
    (benign / "a.npy").write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(npy)) + npy
                                   + bytes(8))
    with zipfile.ZipFile(benign / "bundle.zip", "w") as zf:
        zf.writestr("inner/data.pkl", pickle.dumps([1, 2, 3], 2))
    (benign / "notes.txt").write_text("a plain text file\n" * 10)
    (benign / "empty.bin").write_bytes(b"")
    return out


def test_the_corpus_is_the_benchmarks(corpus: Path) -> None:
    labels = json.loads((corpus / "labels.json").read_text())["files"]
    assert sum(1 for x in labels.values() if x["label"] == "malicious") >= 100


@pytest.mark.parametrize("extra", [(), ("--max-archive-depth", "2", "--allow", "os.system",
                                        "--max-seconds-per-file", "30")])
def test_the_whole_corpus_gives_the_same_json(corpus: Path, extra: tuple[str, ...]) -> None:
    plain, full = _both(corpus.parent, "scan", "models", "corpus", "--json", *extra)
    assert plain[0] == full[0] == 1  # malicious files: a finding at low or worse
    assert plain[2] == full[2]
    doc = _timeless_json(plain[1])
    assert doc == _timeless_json(full[1])
    assert doc["summary"]["by_severity"].get("critical", 0) > 50  # the scan did find them


def test_each_file_gives_the_same_table_and_exit_code(corpus: Path) -> None:
    files = sorted(str(p.relative_to(corpus.parent)) for p in corpus.rglob("*") if p.is_file())
    assert len(files) > 100
    for batch in (files[:40], files[40:80], files[80:]):  # a pre-commit hook's batches
        plain, full = _both(corpus.parent, "scan", "models", *batch, "-q")
        assert plain[0] == full[0]
        assert plain[2] == full[2]
        assert _timeless(plain[1]) == _timeless(full[1])
        assert "finding(s)" in plain[1]


def test_benign_files_pass_the_same_way(corpus: Path) -> None:
    plain, full = _both(corpus, "scan", "models", "benign", "--fail-on", "medium")
    assert plain[0] == full[0] == 0
    assert _timeless(plain[1]) == _timeless(full[1])
    assert plain[2] == full[2]  # progress lines on stderr (not quiet)


@pytest.mark.parametrize("options", [
    ("--exclude", "malicious/", "--exclude", "*.txt"),
    ("--no-default-excludes", "--max-file-bytes", "300"),
    ("--max-archive-members", "1", "--max-archive-bytes", "64", "--max-member-bytes", "32"),
])
def test_options_give_the_same_results(corpus: Path, options: tuple[str, ...]) -> None:
    plain, full = _both(corpus.parent, "scan", "models", "corpus", "--json", *options)
    assert plain[0] == full[0]
    assert _timeless_json(plain[1]) == _timeless_json(full[1])


@pytest.mark.parametrize("options", [
    ("--max-archive-depth", "0"),  # below the field's bound: the model names the problem
    ("--max-seconds-per-file", "-1"),
    ("--max-file-bytes", "-5", "--max-archive-members", "0"),
])
def test_a_value_out_of_bounds_is_the_models_error(corpus: Path, options: tuple[str, ...]) -> None:
    code, out, err, mods = _run(corpus.parent, "scan", "models", "corpus", *options)
    full_code, full_out, full_err, _ = _run(corpus.parent, "scan", "models", "corpus", *options,
                                            "-c", "x.yaml")
    assert code == full_code == 2
    assert (out, err) == (full_out, full_err)
    assert err.startswith("secpipe: error: scan models: --")
    assert "pydantic" in mods  # the model validated it


def test_a_missing_file_is_the_same_error(corpus: Path) -> None:
    plain, full = _both(corpus.parent, "scan", "models", "corpus/benign/nothing-here.pkl")
    assert plain == full
    assert plain[0] == 2


def test_a_project_configuration_takes_the_models_path(tmp_path: Path) -> None:
    (tmp_path / "m.pkl").write_bytes(pickle.dumps({"a": 1}))
    (tmp_path / "secpipe.yaml").write_text("version: 1\n")
    code, _, _, mods = _run(tmp_path, "scan", "models", "m.pkl", "-q")
    assert code == 0
    assert "secpipe.scanners.models.step" in mods  # the configuration's path
    (tmp_path / "secpipe.yaml").unlink()
    (tmp_path / ".secpipe-suppressions.yaml").write_text("suppressions: []\n")
    assert "secpipe.scanners.models.step" in _run(tmp_path, "scan", "models", "m.pkl", "-q")[3]
    (tmp_path / ".secpipe-suppressions.yaml").unlink()
    assert "secpipe.scanners.models.step" not in _run(tmp_path, "scan", "models", "m.pkl")[3]
