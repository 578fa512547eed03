"""Issue 9, "Fail closed and never destroy": the scanners on hostile and unreadable inputs.

Every sample is built here by code, written to a temporary folder and only ever scanned: nothing
is unpickled or loaded (``pickle.dumps`` only serialises; ``pickletools`` only disassembles).
What a budget or a permission stops must be a finding the default policy (``fail_on: high``)
fails on, never "no findings, 0 model file(s)".
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import pickletools
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from built_archives import tar_bytes
from secpipe.cli.main import main
from secpipe.core.findings import Finding, Severity
from secpipe.scanners.models.engine import Budgets, ModelScanner

NOBODY = 65534
PAYLOAD = b"cos\nsystem\n(S'true'\ntR."
"""``os.system('true')`` in protocol-0 opcodes, without a PROTO header."""


class _Hook:
    """Serialises as a call of os.system (``pickle.dumps`` writes it; nothing ever loads it)."""

    def __reduce__(self) -> tuple[Callable[[str], int], tuple[str]]:
        return os.system, ("true",)


def _long_pickle(protocol: int) -> bytes:
    """The issue's sample: 150 000 list items (> 100 000 opcodes) before the first import."""
    return pickle.dumps({"weights": list(range(150_000)), "hook": _Hook()}, protocol=protocol)


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


_tar = tar_bytes


CONTAINERS: dict[str, Callable[[bytes], bytes]] = {
    "plain": lambda p: p,
    "torch-zip": lambda p: _zip({"archive/data.pkl": p, "archive/version": b"3\n"}),
    "torch-zip-deflated": lambda p: _zip({"archive/data.pkl": p}, zipfile.ZIP_DEFLATED),
    "gzip": gzip.compress,
    "joblib-zlib": zlib.compress,
    "tar": lambda p: _tar({"model.pkl": p}),
    "tar-gz": lambda p: _tar({"release/model.pkl": p}, "w:gz"),
}


def _scan(path: Path, **budgets: Any) -> tuple[list[Finding], set[str]]:
    report = ModelScanner(Budgets(**budgets)).scan_file(path, path.name)
    return [f for f in report.findings if f.severity is not Severity.INFO], report.formats


def _dangerous(findings: list[Finding]) -> bool:
    return any(f.rule_id == "models.pickle.dangerous-callable" and f.severity is Severity.CRITICAL
               for f in findings)


def _fails_default_policy(findings: list[Finding]) -> bool:
    return any(f.severity.rank >= Severity.HIGH.rank for f in findings)


# ------------------------------------------------ 1. the sniffer and every budget fail closed


@pytest.mark.parametrize("protocol", [0, 1])
@pytest.mark.parametrize("container", sorted(CONTAINERS))
def test_bypass_long_protocol01_pickle(tmp_path: Path, container: str, protocol: int) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(CONTAINERS[container](_long_pickle(protocol)))
    findings, formats = _scan(path)
    assert _dangerous(findings) and formats
    assert main(["scan", "models", str(path), "--fail-on", "high", "-q"]) == 1


@pytest.mark.parametrize("budget", [{"max_ops": 20_000}, {"max_stack": 500}])
@pytest.mark.parametrize("container", ["plain", "gzip", "torch-zip"])
def test_bypass_budget_hit_is_a_high_finding(tmp_path: Path, container: str,
                                            budget: dict[str, int]) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(CONTAINERS[container](_long_pickle(1)))
    findings, _ = _scan(path, **budget)
    assert any(f.rule_id == "models.scan-incomplete" and f.severity is Severity.HIGH
               for f in findings), [(f.rule_id, f.severity) for f in findings]


def test_bypass_nesting_budget_is_a_high_finding(tmp_path: Path) -> None:
    (tmp_path / "m.gz").write_bytes(gzip.compress(gzip.compress(gzip.compress(PAYLOAD))))
    findings, _ = _scan(tmp_path / "m.gz", max_depth=1)
    assert [(f.rule_id, f.severity) for f in findings] == [("models.scan-incomplete",
                                                            Severity.HIGH)]


def test_bypass_long_second_stream_after_benign(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"ok": 1}, protocol=2) + _long_pickle(1))
    assert _dangerous(_scan(path)[0])
    findings, _ = _scan(path, max_ops=20_000)  # the second stream outruns the budget
    assert _fails_default_policy(findings), [(f.rule_id, f.severity) for f in findings]


@pytest.mark.parametrize("first", [b"F1.0\n0", b"G?\xf0\x00\x00\x00\x00\x00\x000", b"C\x02ab0",
                                   b"B\x02\x00\x00\x00ab0", b"\x8c\x02ab0", b"\x88\x8900"])
def test_bypass_first_opcode_outside_the_alphabet(tmp_path: Path, first: bytes) -> None:
    data = first + PAYLOAD
    assert [op.name for op, _, _ in pickletools.genops(data)][-1] == "STOP"  # a valid stream
    (tmp_path / "m.pkl").write_bytes(data)
    assert _dangerous(_scan(tmp_path / "m.pkl")[0])


def test_bypass_end_of_central_directory_after_a_pickle(tmp_path: Path) -> None:
    # pickle.load ignores what follows STOP; the sniffer took the stray record for a zip
    (tmp_path / "m.pkl").write_bytes(PAYLOAD + b"PK\x05\x06" + bytes(18))
    assert _dangerous(_scan(tmp_path / "m.pkl")[0])


def test_bypass_gguf_magic_that_is_also_a_pickle(tmp_path: Path) -> None:
    # "GGUF" + version 3 + one byte is BINFLOAT's argument; torch.load/pickle.load run the rest
    data = b"GGUF" + (3).to_bytes(4, "little") + b"\x00" + b"0N0N0N0" + PAYLOAD
    assert [op.name for op, _, _ in pickletools.genops(data)][:2] == ["BINFLOAT", "POP"]
    (tmp_path / "model.gguf").write_bytes(data)
    assert _dangerous(_scan(tmp_path / "model.gguf")[0])


def _cut_pickle() -> bytes:
    """Protocol 1, starting with a 2 MiB string: its first KiB is one unfinished opcode."""
    return b"X" + (2 << 20).to_bytes(4, "little") + b"a" * (2 << 20) + b"0" + PAYLOAD


@pytest.mark.parametrize("container", ["torch-zip", "torch-zip-deflated", "tar"])
def test_bypass_member_head_cut_mid_opcode(tmp_path: Path, container: str) -> None:
    (tmp_path / "m.pt").write_bytes(CONTAINERS[container](_cut_pickle()))
    assert _dangerous(_scan(tmp_path / "m.pt")[0])


def _pb(number: int, value: bytes | str | int) -> bytes:
    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
            n >>= 7
            if not n:
                return bytes(out)
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    raw = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(raw)) + raw


def _onnx(pad: int = 0, extra: bytes = b"") -> bytes:
    """An ONNX model whose node needs a custom operator library (``com.evil``)."""
    init = _pb(1, 1) + _pb(2, 1) + _pb(8, "w") + _pb(9, bytes(pad))
    graph = _pb(5, init) + _pb(1, _pb(4, "Evil") + _pb(7, "com.evil")) + _pb(2, "g")
    return _pb(1, 8) + _pb(8, _pb(1, "") + _pb(2, 17)) + extra + _pb(7, graph)


@pytest.mark.parametrize("container", ["plain", "zip", "tar"])
def test_bypass_large_onnx_member(tmp_path: Path, container: str) -> None:
    model = _onnx(pad=2 << 20)  # over 1 MiB: its head is one unfinished field
    wrap: dict[str, Callable[[bytes], bytes]] = {
        "plain": lambda b: b, "zip": lambda b: _zip({"model.onnx": b}, zipfile.ZIP_DEFLATED),
        "tar": lambda b: _tar({"model.onnx": b})}
    (tmp_path / "m.bin").write_bytes(wrap[container](model))
    assert "models.onnx.unknown-domain" in {f.rule_id for f in _scan(tmp_path / "m.bin")[0]}


def test_bypass_onnx_with_many_top_level_fields(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "m.onnx").write_bytes(_onnx(extra=_pb(14, b"") * 70_000))
    assert "models.onnx.unknown-domain" in {f.rule_id for f in _scan(tmp_path / "m.onnx")[0]}
    from secpipe.scanners.models import sniff
    monkeypatch.setattr(sniff, "_PB_MAX_FIELDS", 1_000)  # the typing budget runs out
    findings, _ = _scan(tmp_path / "m.onnx")
    assert [(f.rule_id, f.severity) for f in findings] == [("models.undecided", Severity.HIGH)]


def test_bypass_savedmodel_text_after_long_comments(tmp_path: Path) -> None:
    text = "# exported\n" * 1_000 + ('saved_model_schema_version: 1\nmeta_graphs { graph_def {'
                                     ' node { name: "w" op: "WriteFile" } } }\n')
    (tmp_path / "saved_model.pbtxt").write_text(text)
    rules = {f.rule_id for f in _scan(tmp_path / "saved_model.pbtxt")[0]}
    assert rules == {"models.savedmodel.file-io-op"}


def test_bypass_gzip_payload_after_many_members(tmp_path: Path) -> None:
    data = gzip.compress(b"") * 4_100 + gzip.compress(PAYLOAD)  # gzip.open reads them all
    (tmp_path / "m.joblib").write_bytes(data)
    findings, _ = _scan(tmp_path / "m.joblib")
    assert _dangerous(findings) or _fails_default_policy(findings), findings


def test_plain_text_and_data_are_still_not_models(tmp_path: Path) -> None:
    samples = {"a.py": b"# a script\nimport os\n" * 500, "n.txt": b"\n\nnotes\n",
               "d.csv": b"1,2,3\n" * 50_000, "r.bin": os.urandom(1 << 16),
               "z.bin": bytes(1 << 16), "F.txt": b"From: someone\n"}
    for name, data in samples.items():
        (tmp_path / name).write_bytes(data)
        assert _scan(tmp_path / name) == ([], set()), name


# ------------------------------------- 2. unreadable inputs fail, links and FIFOs stay skipped


@pytest.fixture
def tree() -> Iterator[Path]:
    """A project with a malicious model and a secret nobody may read, an unreadable folder, a
    readable benign file, a link and a FIFO. As root (CI) it belongs to ``nobody``, and the scans
    run as ``nobody`` (:func:`_secpipe`): root reads mode-000 files."""
    base = Path(tempfile.mkdtemp(prefix="secpipe-hostile-"))
    root = base / "project"
    (root / "locked").mkdir(parents=True)
    (root / "home").mkdir()
    (root / "model.pkl").write_bytes(_long_pickle(1))
    (root / "locked" / "inner.pkl").write_bytes(PAYLOAD)
    (root / "secret.env").write_text("DB_PASSWORD = 'Zx9!kQ2#mP7@vL4$wR8'\n")
    (root / "ok.txt").write_text("nothing to see\n")
    (root / "link.pkl").symlink_to(root / "ok.txt")
    os.mkfifo(root / "pipe")
    if os.geteuid() == 0:
        base.chmod(0o755)
        for path in [base, *base.rglob("*")]:
            os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
    for name in LOCKED:
        (root / name).chmod(0)
    try:
        yield root
    finally:
        for name in LOCKED:
            (root / name).chmod(0o700)
        shutil.rmtree(base)


LOCKED = ("model.pkl", "secret.env", "locked")


def _secpipe(root: Path, *argv: str) -> tuple[int, str, str]:
    """``secpipe ARGV`` in ``root`` as a user who cannot read the locked inputs: (exit code,
    stdout, stderr). As root, a forked child first runs the same command as root on a copy (so
    every module it needs is imported while the interpreter's folders are reachable: here it
    lives under /root), then drops to ``nobody`` and runs it on the tree."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        result: list[object] = [-1, "", "the child failed before running secpipe"]
        try:
            os.close(read)
            os.environ.update(HOME=str(root / "home"), XDG_CACHE_HOME=str(root / "home"))
            if os.geteuid() == 0:
                _warm_up(root, argv)
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            os.chdir(root)
            out, err = io.StringIO(), io.StringIO()
            with redirect_stdout(out), redirect_stderr(err):
                result = [main(list(argv)), out.getvalue(), err.getvalue()]
        except BaseException as exc:  # reported to the parent, which fails the test
            result = [-1, "", f"{type(exc).__name__}: {exc}"]
        finally:
            with os.fdopen(write, "w") as pipe:
                pipe.write(json.dumps(result))
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        rc, out, err = json.loads(pipe.read())
    os.waitpid(pid, 0)
    return rc, out, err


def _warm_up(root: Path, argv: tuple[str, ...]) -> None:
    copy = Path(tempfile.mkdtemp(prefix="secpipe-warm-")) / "project"
    shutil.copytree(root, copy, symlinks=True, ignore=shutil.ignore_patterns("pipe"))
    os.chdir(copy)
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        main(list(argv))
    shutil.rmtree(copy.parent)


@pytest.mark.parametrize(("scanner", "extra"), [("models", []), ("secrets", ["--no-cache"])])
def test_unreadable_inputs_met_while_walking_are_high_findings(tree: Path, scanner: str,
                                                               extra: list[str]) -> None:
    rc, out, err = _secpipe(tree, "scan", scanner, ".", "--fail-on", "high", "--json", *extra)
    assert rc == 1, out + err
    report = json.loads(out)
    assert {(f["location"]["path"], f["severity"]) for f in report["findings"]
            if f["rule_id"] == f"{scanner}.unreadable"} == {
        ("locked", "high"), ("model.pkl", "high"), ("secret.env", "high")}
    skipped = {s["path"]: s["reason"] for s in report["steps"][0]["skipped"]}
    assert skipped["link.pkl"] == "symbolic link (not followed)"  # a policy: no finding
    assert skipped["pipe"] == "not a regular file"  # never opened: no bytes at rest to scan
    assert skipped["locked"] == "unreadable: Permission denied"
    assert not any(f["location"]["path"] in ("link.pkl", "pipe") for f in report["findings"])


@pytest.mark.parametrize(("scanner", "target"), [
    ("models", "model.pkl"), ("secrets", "secret.env"), ("models", "locked"),
    ("secrets", "locked")])
def test_unreadable_input_named_explicitly_is_an_error(tree: Path, scanner: str,
                                                      target: str) -> None:
    rc, out, err = _secpipe(tree, "scan", scanner, target,
                            *(["--no-cache"] * (scanner == "secrets")))
    assert rc == 2, out + err
    assert f"{target}: unreadable: Permission denied" in err


def test_a_gate_after_a_scan_fails_on_unreadable_inputs(tree: Path) -> None:
    (tree / "secpipe.yaml").write_text(
        "pipelines:\n  check:\n    stages:\n"
        "      - {name: scan, steps: [{uses: scan-models, id: models},"
        " {uses: scan-secrets, id: secrets, with: {cache: false}}]}\n"
        "      - {name: gate, steps: [{uses: gate}]}\n")
    if os.geteuid() == 0:
        os.chown(tree / "secpipe.yaml", NOBODY, NOBODY)
    rc, out, err = _secpipe(tree, "run", "check")
    assert rc == 1, out + err
    assert "unreadable" in out + err
