"""Issue 11 items 1 and 2: every joblib compressor (nested too), LZ4 without ``lz4``, candidate
files nothing identifies, and configs that make the loader instantiate a callable (NeMo/Hydra
``_target_``, Lightning ``class_path``, Keras ``module``/``class_name``, transformers
``auto_map``). Hostile samples are built here by code and only ever scanned."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from models_helpers import (
    callables,
    rules,
    scan,
    system_call,
    zip_bytes,
)

from built_archives import tar_bytes
from secpipe.core.findings import Severity

COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "zlib": lambda d: zlib.compress(d, 3),
    "gzip": lambda d: gzip.compress(d, 3),
    "bz2": lambda d: bz2.compress(d, 3),
    "xz": lambda d: lzma.compress(d, preset=3),
    **{f"lzma-preset{p}": (lambda d, p=p: lzma.compress(d, format=lzma.FORMAT_ALONE,
                                                        preset=p))  # type: ignore[misc]
       for p in range(10)},
    "zfile": lambda d: b"ZF" + f"0x{len(d):x}".ljust(19).encode() + zlib.compress(d),
}


_tar = tar_bytes


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _worst(findings: list[object]) -> int:
    return max((f.severity.rank for f in findings), default=-1)  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_bypass_joblib_every_compressor(tmp_path: Path, kind: str) -> None:
    path = _write(tmp_path, "m.joblib", COMPRESSORS[kind](system_call()))
    found = scan(path)
    assert "os.system" in callables(found)
    assert Severity.CRITICAL in {f.severity for f in found}


def test_bypass_joblib_nested_compression(tmp_path: Path) -> None:
    data = system_call()
    for kind in ("lzma-preset3", "gzip", "bz2", "xz", "zlib"):
        data = COMPRESSORS[kind](data)
    assert "os.system" in callables(scan(_write(tmp_path, "m.pkl", data)))


def test_lz4_without_the_package_is_a_finding(tmp_path: Path) -> None:
    try:
        import lz4  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("lz4 is installed")
    frame = b"\x04\x22\x4d\x18\x64\x40\xa7" + b"\x10\x00\x00\x80" + b"\x00" * 16
    found = scan(_write(tmp_path, "m.joblib", frame))
    assert "models.scan-incomplete" in rules(found)
    assert _worst(found) >= Severity.HIGH.rank
    assert any("could not be analysed" in f.message for f in found)


def test_unidentified_candidate_is_a_finding(tmp_path: Path) -> None:
    found = scan(_write(tmp_path, "weights.pkl", bytes(range(7, 200)) * 3))
    assert rules(found) == {"models.undecided"}
    assert _worst(found) >= Severity.MEDIUM.rank
    # not a candidate by name: not reported; a Git LFS pointer: not reported
    assert scan(_write(tmp_path, "notes.dat", bytes(range(7, 200)) * 3)) == []
    lfs = b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n"
    assert scan(_write(tmp_path, "model.pt", lfs)) == []


@pytest.mark.parametrize("target", ["os.system", "subprocess.Popen"])
@pytest.mark.parametrize("mode", ["w", "w:gz"])
def test_bypass_nemo_target_instantiates_a_process(tmp_path: Path, target: str,
                                                   mode: str) -> None:
    cfg = f"model:\n  preprocessor:\n    _target_: {target}\n    args: [id]\n".encode()
    path = _write(tmp_path, "m.nemo", _tar({"./model_config.yaml": cfg}, mode))
    found = scan(path)
    assert "models.config.dangerous-target" in rules(found)
    assert target in callables(found)
    assert _worst(found) == Severity.CRITICAL.rank


def test_benign_nemo_has_no_finding_above_info(tmp_path: Path) -> None:
    cfg = (b"target: nemo.collections.asr.models.EncDecCTCModel\n"
           b"encoder:\n  _target_: nemo.collections.asr.modules.ConformerEncoder\n"
           b"  n_layers: 2\n")
    assert scan(_write(tmp_path, "ok.nemo", _tar({"model_config.yaml": cfg}))) == []


def test_nemo_unknown_class_is_medium(tmp_path: Path) -> None:
    cfg = b"_target_: somepkg.layers.Block\n"
    found = scan(_write(tmp_path, "x.nemo", _tar({"model_config.yaml": cfg})))
    assert rules(found) == {"models.config.unknown-target"}
    assert _worst(found) == Severity.MEDIUM.rank


def test_unparsable_config_naming_a_callable_is_incomplete(tmp_path: Path) -> None:
    cfg = b"_target_: os.system\n_target_: x\n"  # duplicate key: the strict loader refuses it
    found = scan(_write(tmp_path, "x.nemo", _tar({"model_config.yaml": cfg})))
    assert "models.scan-incomplete" in rules(found)


def test_transformers_auto_map_with_trust_remote_code(tmp_path: Path) -> None:
    cfg = {"model_type": "x", "trust_remote_code": True,
           "auto_map": {"AutoModel": "modeling_x.XModel"}}
    found = scan(_write(tmp_path, "hf/config.json", json.dumps(cfg).encode()))
    assert rules(found) == {"models.config.remote-code"}
    assert _worst(found) == Severity.HIGH.rank
    del cfg["trust_remote_code"]
    found = scan(_write(tmp_path, "hf2/config.json", json.dumps(cfg).encode()))
    assert rules(found) == {"models.config.remote-code"}
    assert _worst(found) == Severity.MEDIUM.rank
    plain = {"model_type": "bert", "architectures": ["BertModel"]}
    assert scan(_write(tmp_path, "hf3/config.json", json.dumps(plain).encode())) == []


def test_bypass_lightning_class_path(tmp_path: Path) -> None:
    cfg = b"model:\n  class_path: subprocess.Popen\n  init_args:\n    args: [id]\n"
    found = scan(_write(tmp_path, "run/hparams.yaml", cfg))
    assert "subprocess.Popen" in callables(found)
    assert _worst(found) == Severity.CRITICAL.rank
    benign = b"optimizer:\n  class_path: torch.optim.AdamW\n  init_args:\n    lr: 0.1\n"
    assert scan(_write(tmp_path, "ok/hparams.yaml", benign)) == []


def test_bypass_keras_module_class_name(tmp_path: Path) -> None:
    layer = {"module": "os", "class_name": "system", "config": {}, "registered_name": "system"}
    cfg = {"module": "keras", "class_name": "Sequential", "config": {"layers": [layer]}}
    data = zip_bytes({"config.json": json.dumps(cfg).encode(), "metadata.json": b"{}"})
    found = scan(_write(tmp_path, "m.keras", data))
    assert "os.system" in callables(found)
    assert _worst(found) == Severity.CRITICAL.rank


def test_config_in_a_zip_is_walked(tmp_path: Path) -> None:
    data = zip_bytes({"conf/model.yaml": b"net:\n  _target_: builtins.eval\n"})
    found = scan(_write(tmp_path, "bundle.zip", data))
    assert "models.config.dangerous-target" in rules(found)
