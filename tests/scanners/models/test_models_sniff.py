"""Content typing fails closed: undecided is never "not a model" (samples built here)."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest
from models_helpers import pb, system_call

from secpipe.core.findings import Severity
from secpipe.scanners.models import sniff as sniff_mod
from secpipe.scanners.models.engine import ModelScanner
from secpipe.scanners.models.pickle_vm import OPCODES, run_stream
from secpipe.scanners.models.sniff import MORE, sniff, sniff_head


def _keras_metadata() -> bytes:
    node = pb(1, pb(1, 1)) + pb(2, 0) + pb(3, "root") + pb(4, "_tf_keras_model") \
        + pb(5, '{"class_name": "Sequential", "config": {}}')
    return pb(1, node) * 3


def _sentencepiece(pieces: int) -> bytes:
    """A SentencePiece ModelProto: ``pieces`` pieces (field 1), trainer and normalizer specs."""
    piece = pb(1, "tok") + bytes([2 << 3 | 5]) + struct.pack("<f", -1.5) + pb(3, 1)
    return pb(1, piece) * pieces + pb(2, pb(1, "m.model")) + pb(3, pb(1, "nmt_nfkc"))


def test_keras_metadata_is_typed_and_a_tokenizer_model_is_not() -> None:
    assert sniff(_keras_metadata()) == "keras-metadata"
    started = time.monotonic()
    assert sniff(_sentencepiece(300_000)) is None  # decided at its first piece, not undecided
    assert time.monotonic() - started < 1.0


def test_the_alphabet_is_every_opcode_the_machine_knows() -> None:
    assert {ord(c) for c in "(.0N]})cFGBCIJKLSTUVX"} | {0x80, 0x8C, 0x95} <= OPCODES
    for byte in OPCODES:  # each one has a handler: none is "invalid opcode" at the start
        res = run_stream(bytes([byte]) + b"\0" * 16)
        assert res.brk is None or "invalid opcode" not in res.brk.reason or res.brk.offset > 0


def test_a_head_that_cannot_rule_a_model_out_asks_for_more() -> None:
    cut_pickle = b"X" + (1 << 21).to_bytes(4, "little") + b"a" * 1019
    onnx_head = (pb(1, 8) + pb(8, pb(1, "") + pb(2, 17)) + pb(7, pb(5, b"\0" * 4096)))[:1024]
    comments = b"# licence\n" * 200
    for head in (cut_pickle, onnx_head, comments[:1024]):
        assert sniff_head(head, 1 << 22) == MORE, head[:20]
        assert sniff_head(head, len(head)) is None  # the whole blob: decided
    for head in (b"hello world, plain text\n" * 50, bytes(1024), b"\n# title\n\nsome text\n" * 60):
        assert sniff_head(head[:1024], 1 << 22) is None, head[:20]
    assert sniff_head(system_call()[:12], 1 << 22) == "pickle"


def test_comments_past_the_window_are_undecided(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sniff_mod, "_TEXT_WINDOW", 4096)
    path = tmp_path / "saved_model.pbtxt"
    path.write_text("# c\n" * 2000 + 'node { name: "w" op: "WriteFile" }\n')
    findings = ModelScanner().scan_file(path, path.name).findings
    assert [(f.rule_id, f.severity) for f in findings] == [("models.undecided", Severity.HIGH)]
    path.write_text("# c\n" * 100 + "just a comment block, then text\n" * 200)
    # not a graph: no high finding, but a file named like a model that no reader identified is
    # accounted for (medium), never a silent "not a model" (issue 11 item 1)
    findings = ModelScanner().scan_file(path, path.name).findings
    assert [(f.rule_id, f.severity) for f in findings] == [("models.undecided", Severity.MEDIUM)]


def test_safetensors_look_alikes_are_not_typed_as_safetensors() -> None:
    header = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    real = struct.pack("<Q", len(header)) + header + b"\0" * 4
    assert sniff(real) == "safetensors"
    assert sniff(b"prefix=${pcfiledir}/../..\nName: numpy\n") is None  # pkg-config text
    mo = struct.pack("<IIIIIII", 0x950412DE, 0, 123, 28, 1012, 0, 0) + b"\0" * 40
    assert mo[8:9] == b"{" and sniff(mo) is None  # gettext catalogue of 123 strings
    assert sniff(struct.pack("<Q", 1 << 40) + b"{}") == "safetensors"  # broken, still typed


def test_foreign_formats_under_model_names(tmp_path: Path) -> None:
    # an IDL save file named .sav (scipy's test data ships dozens) is no model; a Python 2
    # .npy header (`(2L,)`) is read as numpy reads it
    idl = tmp_path / "array_float32_1d.sav"
    idl.write_bytes(b"SR\x00\x04\x00\x00\x00\x0a" + bytes(64))
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2L,), }".ljust(69) + "\n"
    npy = tmp_path / "win64python2.npy"
    npy.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
                    + bytes(16))
    scanner = ModelScanner()
    assert scanner.scan_file(idl, idl.name).findings == []
    assert scanner.scan_file(npy, npy.name).findings == []
    other = tmp_path / "model.sav"
    other.write_bytes(b"XX\x00\x04" + bytes(60))  # still undecided: no known format
    assert [f.rule_id for f in scanner.scan_file(other, other.name).findings] == \
        ["models.undecided"]
