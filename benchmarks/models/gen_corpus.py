"""Generate the labelled model-file corpus for the model-scanner benchmark.

    python gen_corpus.py [OUT] [--large] [--tf-python PY]

Malicious files are written opcode by opcode / byte by byte (never by loading or pickling an
object); benign files are saved by the real libraries at generation time.  Writes
``OUT/labels.json``.  ``--large`` also writes a >= 1 GiB torch state dict and a 1 GiB safetensors
file into ``--large-dir`` (default: OUT + "-large") for the MB/s test.
Run it with the generator venv's python (see README.md); it never loads what it writes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _benign
import _mal_containers
import _mal_formats
import _mal_pickles
from _corpus import Corpus, Label

DEFAULT_OUT = Path("/tmp/secpipe-bench/models")
DEFAULT_TF_PY = Path("/tmp/secpipe-bench/venv-tf/bin/python")


def _has(mod: str) -> bool:
    return importlib.util.find_spec(mod) is not None


def _reset(out: Path) -> None:
    if out.exists():
        if any(out.iterdir()) and not (out / "labels.json").exists():
            raise SystemExit(f"refusing to clear {out}: not a corpus folder (no labels.json)")
        shutil.rmtree(out)
    out.mkdir(parents=True)


def _tf(c: Corpus, tf_python: Path, notes: list[str]) -> None:
    if not tf_python.exists():
        notes.append(f"{tf_python} missing: benign Keras/SavedModel files skipped")
        return
    here = Path(__file__).resolve().parent / "_benign_tf.py"
    proc = subprocess.run([str(tf_python), str(here), str(c.root)], capture_output=True,
                          text=True, timeout=900, check=False)
    if proc.returncode != 0:
        notes.append("benign TF generation failed: " + proc.stderr.strip().splitlines()[-1])
        return
    for item in json.loads(proc.stdout.strip().splitlines()[-1]):
        c.labels.append(Label(item["path"], "benign", item["technique"], item["fmt"],
                              item["description"]))


def large(out: Path) -> dict[str, int]:
    """A 1 GiB torch state dict (zip, 16 x 64 MiB tensors) and a 1 GiB safetensors file."""
    import torch
    from safetensors.torch import save_file

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    g = torch.Generator().manual_seed(0)
    sd = {f"layers.{i}.weight": torch.empty(4096, 4096).uniform_(generator=g) for i in range(16)}
    torch.save(sd, out / "state_dict_1g.pt")
    save_file(sd, str(out / "model_1g.safetensors"))
    sizes = {p.name: p.stat().st_size for p in out.iterdir()}
    (out / "large.json").write_text(json.dumps(sizes, indent=1))
    return sizes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--large", action="store_true", help="also write the >= 1 GiB files")
    ap.add_argument("--large-dir", type=Path, default=None)
    ap.add_argument("--tf-python", type=Path, default=DEFAULT_TF_PY,
                    help="python of a venv with tensorflow (benign Keras/SavedModel files)")
    ap.add_argument("--no-benign", action="store_true", help="malicious files only")
    ap.add_argument("--large-only", action="store_true", help="write only the large files")
    a = ap.parse_args(argv)
    ldir = a.large_dir or Path(str(a.out) + "-large")
    if a.large_only:
        for name, size in large(ldir).items():
            print(f"large: {ldir / name} {size / 2**20:.0f} MiB")
        return 0
    t0 = time.monotonic()
    _reset(a.out)
    c = Corpus(a.out)
    notes: list[str] = []
    _mal_pickles.build(c)
    _mal_containers.build(c, have_7z=_has("py7zr"))
    if not _has("py7zr"):
        notes.append("py7zr not importable: 7z-pickle skipped")
    notes += _mal_formats.build(c, have_h5py=_has("h5py"))
    if not a.no_benign:
        notes += _benign.build(c)
        _tf(c, a.tf_python, notes)
    notes += c.notes
    c.write_labels()
    (a.out / "NOTES.txt").write_text("\n".join(notes) + "\n")
    mal = [lb for lb in c.labels if lb.label == "malicious"]
    ben = [lb for lb in c.labels if lb.label == "benign"]
    print(f"{len(mal)} malicious files ({len({lb.technique for lb in mal})} techniques), "
          f"{len(ben)} benign files -> {a.out} in {time.monotonic() - t0:.1f}s")
    for n in notes:
        print("note:", n)
    if a.large:
        for name, size in large(ldir).items():
            print(f"large: {ldir / name} {size / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
