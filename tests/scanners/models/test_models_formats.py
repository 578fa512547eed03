"""Containers and non-pickle formats: hostile samples built here, only ever scanned."""

from __future__ import annotations

import io
import json
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest
from models_helpers import (
    callables,
    gguf,
    glob,
    rules,
    safetensors,
    saved_model,
    scan,
    system_call,
    tf_node,
    torch_data_pkl,
    torch_zip,
    zip_bytes,
)

from secpipe.core.findings import Severity
from secpipe.scanners.models.engine import ModelScanner


def _w(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_benign_torch_zip_is_clean_and_storages_are_not_read(tmp_path: Path) -> None:
    p = torch_zip(tmp_path / "model.pt", torch_data_pkl())
    report = ModelScanner().scan_file(p, "model.pt")
    assert [f.rule_id for f in report.findings] == ["models.pickle.unsafe-format"]
    assert "pytorch-zip" in report.formats and report.bytes_read < 1024


def test_torch_zip_payload_has_member_and_offset(tmp_path: Path) -> None:
    data = torch_data_pkl(glob("os", "system") + b"(Vx\ntR")
    p = torch_zip(tmp_path / "model.pt", data)
    f = next(x for x in scan(p) if x.rule_id == "models.pickle.dangerous-callable")
    assert f.location.member == "archive/data.pkl"
    assert dict(f.properties)["format"] == "pytorch-zip"
    assert data[f.location.offset or 0:].startswith(b"cos\nsystem")


def test_bypass_odd_inner_path(tmp_path: Path) -> None:
    evil = torch_data_pkl(glob("os", "system") + b"(Vx\ntR")
    for top in ("model.weights/v1", "a b", "x"):
        p = torch_zip(tmp_path / f"weights{len(top)}.bin", evil, top=top)
        assert "os.system" in callables(scan(p)), top


def test_bypass_zip_member_odd_extension(tmp_path: Path) -> None:
    p = torch_zip(tmp_path / "model.pt", torch_data_pkl(),
                  extra={"archive/extra/tokenizer.txt": system_call()})
    assert "os.system" in callables(scan(p))


def test_bypass_zip_flag_bits_and_name_mismatch(tmp_path: Path) -> None:
    raw = bytearray(zip_bytes({"archive/data.pkl": system_call()}))
    local = raw.index(b"PK\x03\x04")
    raw[local + 6] |= 0x01  # "encrypted" flag in the local header: zipfile refuses, torch ignores
    name_at = local + 30
    raw[name_at + len("archive/data")] = ord("X")  # local name differs from the central one
    p = _w(tmp_path, "model.pt", bytes(raw))
    findings = scan(p)
    assert "os.system" in callables(findings)
    assert "models.archive.inconsistent" in rules(findings)


def test_bypass_zip_prefixed_junk(tmp_path: Path) -> None:
    p = _w(tmp_path, "model.pt", b"PK\x07\x08" + b"\0" * 60
           + zip_bytes({"archive/data.pkl": system_call()}))
    assert "os.system" in callables(scan(p))


def test_bypass_legacy_torch_sysinfo(tmp_path: Path) -> None:
    magic = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little") + b"."
    evil_info = b"\x80\x02" + glob("os", "system") + b"(Vx\ntR0}."
    keys = b"\x80\x02]q\x00X\x01\x00\x00\x000a."
    storage = struct.pack("<q3f", 3, 0, 1, 2) + b"\x80\x02junk"
    data = magic + b"\x80\x02M\xe9\x03." + evil_info + torch_data_pkl() + keys + storage
    findings = scan(_w(tmp_path, "model.bin", data))
    assert "os.system" in callables(findings)
    assert "models.pickle.trailing-data" not in rules(findings)


def test_npy_object_array_pickle_is_scanned(tmp_path: Path) -> None:
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + system_call()
    findings = scan(_w(tmp_path, "emb.bin", data))
    assert {"models.numpy.object-array", "models.pickle.dangerous-callable"} <= rules(findings)


def test_npz_member_is_scanned(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    buf = io.BytesIO()
    np.save(buf, np.arange(4.0))
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    obj = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + system_call()
    p = _w(tmp_path, "d.npz", zip_bytes({"a.npy": buf.getvalue(), "b.npy": obj}))
    f = [x for x in scan(p) if x.rule_id == "models.pickle.dangerous-callable"]
    assert f and f[0].location.member == "b.npy"


def test_archive_traversal_links_and_nesting(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in {"m/../../etc/x": b"x", "m/inner.pt": zip_bytes(
                {"archive/data.pkl": system_call()})}.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
        link = tarfile.TarInfo("m/link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    findings = scan(_w(tmp_path, "release.tar.gz", buf.getvalue()))
    assert {"models.archive.path-traversal", "models.archive.link",
            "models.pickle.dangerous-callable"} <= rules(findings)
    deep = next(f for f in findings if f.rule_id == "models.pickle.dangerous-callable")
    assert deep.location.member == "[gzip]!m/inner.pt!archive/data.pkl"


def test_zip_bomb_is_reported_not_inflated(tmp_path: Path) -> None:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = b"".join(c.compress(b"\0" * (1 << 22)) for _ in range(64)) + c.flush()
    size = 64 << 22
    name = b"weights.bin"
    head = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, 0, len(payload), size,
                       len(name), 0) + name
    cd = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 20, 0, 8, 0, 0, 0, len(payload),
                     size, len(name), 0, 0, 0, 0, 0o100644 << 16, 0) + name
    body = head + payload
    data = body + cd + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(cd), len(body), 0)
    assert "models.archive.bomb" in rules(scan(_w(tmp_path, "m.zip", data)))


def test_zip_symlink_and_traversal(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("model/weights.bin")
        info.create_system, info.external_attr = 3, 0o120777 << 16
        z.writestr(info, "/etc/passwd")
        z.writestr("../../tmp/evil.pth", "import os")
    found = rules(scan(_w(tmp_path, "m.zip", buf.getvalue())))
    assert {"models.archive.link", "models.archive.path-traversal"} <= found


def test_7z_is_scanned_or_reported(tmp_path: Path) -> None:
    py7zr = pytest.importorskip("py7zr")
    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w") as z:
        z.writestr(system_call(), "model/data.pkl")
    assert "os.system" in callables(scan(_w(tmp_path, "m.7z", buf.getvalue())))


def test_safetensors_checks(tmp_path: Path) -> None:
    data = struct.pack("<8f", *range(8))

    def t(a: int, b: int, shape: list[int] | None = None) -> dict[str, object]:
        return {"dtype": "F32", "shape": shape or [(b - a) // 4], "data_offsets": [a, b]}

    ok = safetensors({"__metadata__": {"format": "pt"}, "a": t(0, 16), "b": t(16, 32)}, data)
    assert scan(_w(tmp_path, "ok.safetensors", ok)) == []
    cases = {
        "overlap": (safetensors({"a": t(0, 24), "b": t(8, 32)}, data), "bad-offsets"),
        "out": (safetensors({"a": t(0, 32), "b": t(32, 1 << 40, [1 << 38])}, data), "bad-offsets"),
        "beyond": (safetensors({"a": t(0, 32)}, data, declared=1 << 40), "bad-offsets"),
        "big": (safetensors({"a": t(0, 32)}, data, declared=200_000_000), "oversized-header"),
        "shape": (safetensors({"a": t(0, 32, [4096, 4096])}, data), "bad-offsets"),
        "dtype": (safetensors({"a": {"dtype": "EVIL", "shape": [8], "data_offsets": [0, 32]}},
                              data), "bad-header"),
    }
    for name, (blob, rule) in cases.items():
        assert f"models.safetensors.{rule}" in rules(scan(_w(tmp_path, f"{name}.st", blob))), name


def test_gguf_templates(tmp_path: Path) -> None:
    good = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
            "message['content'] | trim + '<|im_end|>' }}{% endfor %}")
    base: dict[str, str | int] = {"general.architecture": "llama", "general.alignment": 32}
    assert scan(_w(tmp_path, "ok.gguf", gguf({**base, "tokenizer.chat_template": good}))) == []
    evil = {
        "mro": "{{ ().__class__.__base__.__subclasses__() }}",
        "globals": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "obfuscated": "{% set g = cycler|attr('__in'~'it__') %}{{ g }}",
    }
    for name, tpl in evil.items():
        f = scan(_w(tmp_path, f"{name}.gguf", gguf({**base, "tokenizer.chat_template": tpl})))
        assert [x.severity for x in f] == [Severity.CRITICAL], name


def test_bypass_gguf_named_template(tmp_path: Path) -> None:
    kv: dict[str, str | int] = {"tokenizer.chat_template": "{{ messages }}",
                                "tokenizer.chat_template.tool_use": "{{ lipsum.__globals__ }}"}
    f = scan(_w(tmp_path, "m.gguf", gguf(kv)))
    assert dict(f[0].properties)["key"] == "tokenizer.chat_template.tool_use"


def test_bypass_savedmodel_nested_function(tmp_path: Path) -> None:
    ordinary = [tf_node("save/SaveV2", "SaveV2"), tf_node("save/RestoreV2", "RestoreV2"),
                tf_node("m", "MergeV2Checkpoints")]
    ok = saved_model(ordinary, [("__inference_call_1", [tf_node("mm", "MatMul")])])
    d = tmp_path / "sm"
    d.mkdir()
    (d / "saved_model.pb").write_bytes(ok)
    assert scan(d / "saved_model.pb") == []
    evil = saved_model(ordinary, [("outer", [tf_node("c", "PartitionedCall")]),
                                  ("inner", [tf_node("w", "WriteFile")])])
    (d / "saved_model.pb").write_bytes(evil)
    f = scan(d / "saved_model.pb")
    assert rules(f) == {"models.savedmodel.file-io-op"}
    assert dict(f[0].properties)["scope"] == "function inner"
    py = saved_model([tf_node("p", "EagerPyFunc")], [])
    (d / "saved_model.pb").write_bytes(py)
    assert rules(scan(d / "saved_model.pb")) == {"models.savedmodel.python-op"}


def test_onnx_external_data_and_domains(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    def model(location: str, domain: str = "") -> bytes:
        t = TensorProto()
        t.name, t.data_type = "w", TensorProto.FLOAT
        t.dims.extend([4])
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", location), ("offset", "0"), ("length", "16")):
            e = t.external_data.add()
            e.key, e.value = k, v
        then_g = helper.make_graph([helper.make_node("Identity", ["w"], ["t"])], "then", [],
                                   [helper.make_tensor_value_info("t", TensorProto.FLOAT, [4])],
                                   [t])
        else_g = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [],
                                   [helper.make_tensor_value_info("e", TensorProto.FLOAT, [4])])
        node = helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g,
                                domain=domain)
        g = helper.make_graph([node], "g", [helper.make_tensor_value_info(
            "c", TensorProto.BOOL, [])], [helper.make_tensor_value_info(
                "y", TensorProto.FLOAT, [4])])
        opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain
                                                   else [])
        return bytes(helper.make_model(g, opset_imports=opsets).SerializeToString())

    assert scan(_w(tmp_path, "ok.onnx", model("weights.bin"))) == []
    assert rules(scan(_w(tmp_path, "esc.onnx", model("../../etc/passwd")))) == {
        "models.onnx.external-data-escape"}
    assert rules(scan(_w(tmp_path, "dom.onnx", model("w.bin", "com.evil.ops")))) == {
        "models.onnx.unknown-domain"}
    _ = onnx


def _keras_zip(layers: list[dict[str, object]]) -> bytes:
    cfg = {"module": "keras", "class_name": "Sequential", "registered_name": None,
           "config": {"name": "s", "layers": layers}}
    return zip_bytes({"metadata.json": b'{"keras_version": "3.5.0"}',
                      "config.json": json.dumps(cfg).encode(), "model.weights.h5": b""})


def test_keras_zip(tmp_path: Path) -> None:
    dense = {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
             "config": {"name": "d", "units": 2, "activation": "relu"}}
    assert scan(_w(tmp_path, "ok.keras", _keras_zip([dense]))) == []
    lam = {"module": "keras.layers", "class_name": "Lambda", "config": {
        "name": "l", "function": {"class_name": "__lambda__", "config": {"code": "AAAA"}}}}
    assert "models.keras.lambda-layer" in rules(scan(_w(tmp_path, "l.keras", _keras_zip([lam]))))


def test_bypass_keras_function_ref_and_unsafe_toggle(tmp_path: Path) -> None:
    fref = {"module": "builtins", "class_name": "function", "config": "exec",
            "registered_name": "exec"}
    toggle = {"module": "keras.config", "class_name": "function",
              "config": "enable_unsafe_deserialization", "registered_name": None}
    popen = {"module": "subprocess", "class_name": "Popen", "config": {"args": ["id"]}}
    for i, layer in enumerate((fref, toggle, popen)):
        f = scan(_w(tmp_path, f"k{i}.keras", _keras_zip([layer])))
        assert rules(f) == {"models.keras.unsafe-object"}, layer
        assert f[0].severity is Severity.CRITICAL


def test_keras_h5_lambda(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    cfg = {"class_name": "Sequential", "config": {"layers": [
        {"class_name": "Lambda", "config": {"name": "l", "function": ["AAAA", None, None]}}]}}
    p = tmp_path / "m.h5"
    with h5py.File(p, "w") as f:
        f.attrs["model_config"] = json.dumps(cfg)
    assert rules(scan(p)) == {"models.keras.lambda-layer"}


def test_onnx_external_data_symlink_escape(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    t = TensorProto()
    t.name, t.data_type = "w", TensorProto.FLOAT
    t.dims.extend([4])
    t.data_location = TensorProto.EXTERNAL
    entry = t.external_data.add()
    entry.key, entry.value = "location", "weights.bin"
    g = helper.make_graph([helper.make_node("Identity", ["w"], ["y"])], "g", [],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [t])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    d = tmp_path / "m"
    d.mkdir()
    (d / "model.onnx").write_bytes(model.SerializeToString())
    (tmp_path / "secret").write_bytes(b"\0" * 16)
    (d / "weights.bin").symlink_to(tmp_path / "secret")
    assert rules(scan(d / "model.onnx")) == {"models.onnx.external-data-escape"}


def test_zip_member_lying_about_its_size_is_not_inflated(tmp_path: Path) -> None:
    raw = bytearray(zip_bytes({"archive/data.pkl": system_call() + b"\0" * 70_000}))
    cd = raw.index(b"PK\x01\x02")
    struct.pack_into("<I", raw, cd + 24, 10)  # declared uncompressed size: 10 bytes
    report = ModelScanner().scan_file(_w(tmp_path, "m.pt", bytes(raw)), "m.pt")
    assert report.bytes_read <= 1 << 16
    assert "os.system" in callables(report.findings)


def test_keras_h5_raw_scan_without_h5py(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    h5py = pytest.importorskip("h5py")
    from secpipe.scanners.models import keras_fmt

    cfg = {"class_name": "Sequential", "config": {"layers": [
        {"class_name": "Lambda", "config": {"name": "l", "function": ["AAAA", None, None]}}]}}
    p = tmp_path / "m.h5"
    with h5py.File(p, "w") as f:
        f.attrs["model_config"] = json.dumps(cfg)
    monkeypatch.setattr(keras_fmt.hdf5, "available", lambda: False)
    f = scan(p)
    assert rules(f) == {"models.keras.lambda-layer"}
    assert dict(f[0].properties)["format"] == "keras-h5 (raw scan)"


def test_bypass_hdf5_reader_crash_is_contained(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # fuzzing made libhdf5 segfault on a mutated .h5: the reader runs in its own process, so a
    # crash is a finding and the raw scan still runs
    h5py = pytest.importorskip("h5py")
    from secpipe.scanners.models import hdf5

    p = tmp_path / "m.h5"
    with h5py.File(p, "w") as f:
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {
            "layers": [{"class_name": "Lambda", "config": {"name": "l", "function": ["AA"]}}]}})
    monkeypatch.setattr(hdf5, "_READER", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    f = scan(p)
    assert {"models.scan-incomplete", "models.keras.lambda-layer"} <= rules(f)
    crash = next(x for x in f if x.rule_id == "models.scan-incomplete")
    assert crash.severity is Severity.HIGH and "signal 11" in crash.message


def test_bypass_gzip_payload_split_across_members(tmp_path: Path) -> None:
    import gzip

    data = system_call()
    blob = gzip.compress(data[:5], mtime=0) + gzip.compress(data[5:], mtime=0)
    f = scan(_w(tmp_path, "model.pkl.gz", blob))
    assert "os.system" in callables(f) and "models.pickle.broken-stream" not in rules(f)


def test_zip_bzip2_and_lzma_members(tmp_path: Path) -> None:
    for method in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=method) as z:
            z.writestr("arr.pkl", system_call())
        assert "os.system" in callables(scan(_w(tmp_path, f"m{method}.npz", buf.getvalue())))


def test_old_joblib_zfile_format(tmp_path: Path) -> None:
    raw = system_call()
    blob = b"ZF" + hex(len(raw)).encode().ljust(19) + zlib.compress(raw)
    assert "os.system" in callables(scan(_w(tmp_path, "m.pkl", blob)))


def test_lz4_stream_is_never_silent(tmp_path: Path) -> None:
    try:
        import lz4.frame  # type: ignore[import-not-found]

        blob = lz4.frame.compress(system_call())
        expect = "models.pickle.dangerous-callable"
    except ImportError:
        blob = b"\x04\x22\x4d\x18" + b"\x40\x40\xc0" + b"\0" * 16
        expect = "models.scan-incomplete"
    assert expect in rules(scan(_w(tmp_path, "m.joblib", blob)))


def test_safetensors_duplicate_keys(tmp_path: Path) -> None:
    t = '{"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}'
    header = ('{"a": ' + t + ', "a": ' + t + "}").encode()
    blob = struct.pack("<Q", len(header)) + header + b"\0" * 8
    assert "models.safetensors.bad-header" in rules(scan(_w(tmp_path, "d.safetensors", blob)))


def test_gguf_template_include_is_flagged(tmp_path: Path) -> None:
    kv: dict[str, str | int] = {"tokenizer.chat_template": "{% include 'x' %}{{ messages }}"}
    f = scan(_w(tmp_path, "m.gguf", gguf(kv)))
    assert [x.severity for x in f] == [Severity.HIGH]


def test_bypass_savedmodel_text_format(tmp_path: Path) -> None:
    d = tmp_path / "sm"
    d.mkdir()
    ok = ('saved_model_schema_version: 1\nmeta_graphs {\n  meta_info_def { stripped_op_list {'
          ' op { name: "SaveV2" } } }\n  graph_def {\n    node { name: "s" op: "SaveV2" }\n'
          '    node { name: "r" op: "RestoreV2" }\n  }\n}\n')
    (d / "saved_model.pbtxt").write_text(ok)
    report = ModelScanner().scan_file(d / "saved_model.pbtxt", "saved_model.pbtxt")
    assert report.findings == [] and "savedmodel" in report.formats
    # concatenated literals and octal escapes spell WriteFile; a comment line comes first
    evil = ("# exported\nsaved_model_schema_version: 1\nmeta_graphs { graph_def { library {"
            ' function { signature { name: "f" } node_def { name: "w" op: "Write" "F\\151le" }'
            " } } } }\n")
    (d / "saved_model.pbtxt").write_text(evil)
    f = scan(d / "saved_model.pbtxt")
    assert rules(f) == {"models.savedmodel.file-io-op"}
    assert dict(f[0].properties)["node"] == "w"
