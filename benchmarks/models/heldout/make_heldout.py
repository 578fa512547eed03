"""Build the held-out set of issue 11 (items 1 and 2) by code, then score a scan of it.

    python make_heldout.py OUT_DIR            # write the files (never committed)
    python make_heldout.py OUT_DIR --score    # write them, scan each with secpipe, print the score

Every hostile file only names a callable (``posix.system`` …); nothing here is ever loaded,
unpickled or run. The cases were chosen to differ from the unit tests of
``tests/scanners/models/test_depth_joblib_config.py`` (other compressor presets and nestings,
other config layouts and callables), so the score says something about the class, not the tests.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import pickle
import sys
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

MALICIOUS: dict[str, Callable[[], bytes]] = {}
BENIGN: dict[str, Callable[[], bytes]] = {}


def _reduce(module: str, name: str, arg: str = "true") -> bytes:
    """A protocol-2 pickle calling ``module.name(arg)`` (written, never loaded)."""
    a = arg.encode()
    return (b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n"
            + b"X" + len(a).to_bytes(4, "little") + a + b"\x85R.")


def _lzma_alone(data: bytes, preset: int) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_ALONE, preset=preset)


def _tar(members: dict[str, bytes], mode: str = "w") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tf:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def mal(name: str) -> Callable[[Callable[[], bytes]], Callable[[], bytes]]:
    def deco(fn: Callable[[], bytes]) -> Callable[[], bytes]:
        MALICIOUS[name] = fn
        return fn
    return deco


def ben(name: str) -> Callable[[Callable[[], bytes]], Callable[[], bytes]]:
    def deco(fn: Callable[[], bytes]) -> Callable[[], bytes]:
        BENIGN[name] = fn
        return fn
    return deco


@mal("lzma_preset2.joblib")
def _m1() -> bytes:  # 2 MiB dictionary: a header no fixed list of presets had
    return _lzma_alone(_reduce("posix", "system"), 2)


@mal("lzma_preset0.pkl")
def _m2() -> bytes:  # 256 KiB dictionary
    return _lzma_alone(_reduce("subprocess", "check_output"), 0)


@mal("gzip_of_xz.joblib")
def _m3() -> bytes:
    return gzip.compress(lzma.compress(_reduce("builtins", "exec")))


@mal("bz2_of_lzma.pkl")
def _m4() -> bytes:
    return bz2.compress(_lzma_alone(_reduce("nt", "system"), 4))


@mal("zlib_of_lzma_of_gzip.joblib")
def _m5() -> bytes:
    return zlib.compress(_lzma_alone(gzip.compress(_reduce("os", "popen")), 3), 6)


@mal("lz4_frame.joblib")
def _m6() -> bytes:  # LZ4 frame header (flags, block size, checksum byte) and one opaque block
    return b"\x04\x22\x4d\x18\x64\x40\xa7" + b"\x10\x00\x00\x80" + b"\x00" * 16


@mal("unknown_bytes.joblib")
def _m7() -> bytes:  # a loader would try it; nothing identifies it
    return bytes(range(7, 250)) * 4


@mal("nemo_tgz.nemo")
def _m8() -> bytes:  # the older NeMo layout: tar.gz, config nested deep in a list
    cfg = ("model:\n  encoder:\n    layers:\n      - _target_: torch.nn.Linear\n"
           "      - _target_: builtins.exec\n        _args_: ['print(1)']\n")
    return _tar({"./model_config.yaml": cfg.encode(), "./tokenizer.model": b"\x00" * 32},
                "w:gz")


@mal("nemo_partial.nemo")
def _m9() -> bytes:
    cfg = "optim:\n  sched:\n    _target_: posix.popen\n    _partial_: true\n"
    return _tar({"model_config.yaml": cfg.encode()})


@mal("lightning_callbacks/config.yaml")
def _m10() -> bytes:
    return (b"trainer:\n  callbacks:\n    - class_path: subprocess.run\n"
            b"      init_args:\n        args: [id]\n")


@mal("hf_remote/config.json")
def _m11() -> bytes:
    return json.dumps({"model_type": "custom", "trust_remote_code": True,
                       "auto_map": {"AutoModelForCausalLM": "modeling_x.XForCausalLM"}}).encode()


@mal("hf_other_repo/config.json")
def _m12() -> bytes:  # code fetched from another repository
    return json.dumps({"model_type": "custom",
                       "auto_map": {"AutoConfig": "evil/repo--configuration_x.XConfig"}}).encode()


@mal("keras_nested.keras")
def _m13() -> bytes:
    layer = {"module": "posix", "class_name": "system", "config": {"name": "x"},
             "registered_name": "system"}
    cfg = {"module": "keras", "class_name": "Sequential",
           "config": {"name": "s", "layers": [layer]}}
    return _zip({"config.json": json.dumps(cfg).encode(), "metadata.json": b"{}"})


@ben("nemo_benign.nemo")
def _b1() -> bytes:
    cfg = ("target: nemo.collections.asr.models.ctc_models.EncDecCTCModel\n"
           "encoder:\n  _target_: nemo.collections.asr.modules.ConformerEncoder\n"
           "  d_model: 176\noptim:\n  name: adamw\n")
    return _tar({"./model_config.yaml": cfg.encode(), "./vocab.txt": b"a\nb\n"})


@ben("lzma_numbers.joblib")
def _b2() -> bytes:
    return _lzma_alone(pickle.dumps({"coef": [0.5, 1.5], "n": 3}, protocol=4), 3)


@ben("hf_plain/config.json")
def _b3() -> bytes:
    return json.dumps({"architectures": ["BertModel"], "model_type": "bert",
                       "hidden_size": 768}).encode()


@ben("lightning_plain/hparams.yaml")
def _b4() -> bytes:
    return (b"optimizer:\n  class_path: torch.optim.AdamW\n  init_args:\n    lr: 0.001\n"
            b"callbacks:\n  - class_path: lightning.pytorch.callbacks.ModelCheckpoint\n")


@ben("hydra_plain/config.yaml")
def _b5() -> bytes:
    return b"model:\n  _target_: torch.nn.Linear\n  in_features: 4\n  out_features: 2\n"


def _extra_benign() -> None:
    try:
        import joblib  # type: ignore[import-untyped]
        import numpy
    except ImportError:
        return

    def numpy_joblib() -> bytes:
        out = io.BytesIO()
        joblib.dump(numpy.arange(12.0).reshape(3, 4), out, compress=("lzma", 3))
        return out.getvalue()
    BENIGN["numpy_array_lzma.joblib"] = numpy_joblib


def write(out: Path) -> dict[str, bool]:
    """Write every case under ``out``; returns {relative path: malicious}."""
    _extra_benign()
    labels: dict[str, bool] = {}
    for table, bad in ((MALICIOUS, True), (BENIGN, False)):
        for name, make in table.items():
            path = out / ("malicious" if bad else "benign") / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(make())
            labels[str(path.relative_to(out))] = bad
    return labels


def score(out: Path, labels: dict[str, bool]) -> None:
    from secpipe.core.findings import Severity
    from secpipe.scanners.models.engine import ModelScanner

    scanner = ModelScanner()
    hit = fp = 0
    for rel, bad in sorted(labels.items()):
        report = scanner.scan_file(out / rel, rel)
        worst = max((f.severity.rank for f in report.findings), default=-1)
        flagged = worst >= Severity.MEDIUM.rank
        rules = sorted({f"{f.rule_id}:{f.severity.value}" for f in report.findings})
        print(f"{'MAL' if bad else 'BEN'} {'flagged' if flagged else 'passed '} {rel} {rules}")
        hit += flagged and bad
        fp += flagged and not bad
    n_bad = sum(labels.values())
    print(f"malicious flagged: {hit}/{n_bad}  benign flagged: {fp}/{len(labels) - n_bad}")


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    out = Path(argv[0])
    labels = write(out)
    if "--score" in argv[1:]:
        score(out, labels)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
