"""Property-based fuzzing of the pickle machine and every container reader.

Properties: scanning arbitrary or mutated bytes never raises, never exceeds the per-file time
budget (plus slack, in CPU time), and never reads more than the byte budgets.
``SECPIPE_FUZZ_EXAMPLES`` raises the example count for the long run recorded in docs/fuzzing.md.
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile
import time
import zlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from models_helpers import (
    gguf,
    safetensors,
    saved_model,
    system_call,
    tf_node,
    torch_data_pkl,
    zip_bytes,
)

from secpipe.scanners.models.engine import Budgets, ModelScanner
from secpipe.scanners.models.pickle_vm import VMBudget, run_stream

EXAMPLES = int(os.environ.get("SECPIPE_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SCANNER = ModelScanner(Budgets(max_seconds=2.0, max_member_bytes=8 << 20,
                               max_total_bytes=32 << 20, max_ops=200_000, max_stack=50_000))


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _npy(body: bytes) -> bytes:
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + body


SEEDS: list[bytes] = [
    system_call(2), system_call(0)[2:], pickle.dumps({"a": [1, 2.0, "x", (None,)]}, 5),
    torch_data_pkl(), zip_bytes({"archive/data.pkl": torch_data_pkl(),
                                 "archive/data/0": b"\0" * 12}),
    _tar({"m/data.pkl": system_call()}), zlib.compress(system_call()), _npy(system_call()),
    gguf({"tokenizer.chat_template": "{{ messages[0]['content'] }}", "n": 3}),
    safetensors({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8),
    saved_model([tf_node("s", "SaveV2")], [("f", [tf_node("w", "WriteFile")])]),
    b'{"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda"}]}}',
]

if os.environ.get("SECPIPE_FUZZ_SEEDS"):  # the long run adds real corpus files as seeds
    from pathlib import Path

    SEEDS += [p.read_bytes() for p in sorted(Path(os.environ["SECPIPE_FUZZ_SEEDS"]).rglob("*"))
              if p.is_file() and 0 < p.stat().st_size <= 256 << 10]


def _check(data: bytes) -> None:
    # CPU time, not wall time: on a shared machine a process can be descheduled for seconds
    started = time.process_time()
    report = SCANNER.scan_bytes(data, "fuzz.bin")
    assert time.process_time() - started < 2.0 + 3.0
    assert report.bytes_read <= 32 << 20


@FUZZ
@given(st.binary(max_size=4096))
def test_fuzz_random_bytes_never_crash(data: bytes) -> None:
    _check(data)


@FUZZ
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)),
                                        max_size=12), st.integers(0, 1 << 16))
def test_fuzz_mutated_samples_never_crash(seed: bytes, edits: list[tuple[int, int]],
                                          cut: int) -> None:
    data = bytearray(seed)
    for pos, byte in edits:
        if data:
            data[pos % len(data)] = byte
    _check(bytes(data[: max(1, cut % (len(data) + 1))]) if cut % 3 == 0 else bytes(data))


@FUZZ
@given(st.binary(max_size=2048))
def test_fuzz_pickle_machine_is_bounded(data: bytes) -> None:
    res = run_stream(b"\x80\x04" + data, budget=VMBudget(max_ops=10_000, max_stack=1_000,
                                                         max_memo=1_000, max_items=5_000))
    assert res.ops <= 10_000 + 0x4000
    assert res.stopped or res.brk is not None or res.incomplete is not None
