"""Seeded mutation fuzzing: whatever the bytes, open_image/apply_layers raise ImageError or work."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from image_builders import (
    Member,
    build_oci_layout,
    layer_tar,
    read_blob,
    rewrite_manifest,
    set_index,
    symlink,
    write_blob,
)

from secpipe.images import ImageError, Limits, apply_layers, open_image

FILES: dict[str, bytes | Member] = {
    "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\n" * 20,
    "bin": symlink("usr/bin"),
    "usr/bin/x": Member(data=b"\x7fELF" + bytes(range(256)), mode=0o755),
    "a/.wh.b": b"",
    "c/.wh..wh..opq": b"",
    "long/" + "n" * 150: b"pax name",
}
LIMITS = Limits(max_total_bytes=4 * 1024 * 1024, max_members_per_layer=1000)


def _mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    action = rng.randrange(4)
    if action == 0:  # flip bytes
        for _ in range(rng.randint(1, 8)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
    elif action == 1:  # cut
        del buf[rng.randrange(len(buf)):]
    elif action == 2:  # splice a chunk elsewhere
        start = rng.randrange(len(buf))
        chunk = buf[start:start + rng.randint(1, 600)]
        pos = rng.randrange(len(buf))
        buf[pos:pos] = chunk
    else:  # overwrite a run with digits (numeric header fields)
        pos = rng.randrange(len(buf))
        buf[pos:pos + 12] = str(rng.randrange(10**12)).encode()
    return bytes(buf)


def _point_layer(layout: Path, manifest_digest: str, blob: bytes, diff_id: bool) -> None:
    digest, size = write_blob(layout, blob)

    def point(manifest: dict[str, Any]) -> None:
        manifest["layers"][0].update(digest=digest, size=size)
        if not diff_id:  # drop the diff_ids, so that the mutated bytes reach the tar reader
            config = json.loads(read_blob(layout, manifest["config"]["digest"]))
            config["rootfs"]["diff_ids"] = []
            cfg_digest, cfg_size = write_blob(layout, json.dumps(config).encode())
            manifest["config"].update(digest=cfg_digest, size=cfg_size)

    rewrite_manifest(layout, manifest_digest, point)


@pytest.mark.parametrize("compression", ["gzip", "none"])
def test_mutated_layers_never_crash(tmp_path: Path, compression: str) -> None:
    rng = random.Random(14 + len(compression))
    base = tmp_path / "base"
    digest = build_oci_layout(base, [FILES], compression=compression)
    original = read_blob(base, json.loads(read_blob(base, digest))["layers"][0]["digest"])
    outcomes = {"ok": 0, "error": 0}
    for i in range(60):
        layout = tmp_path / f"m{i}"
        man = build_oci_layout(layout, [FILES], compression=compression)
        _point_layer(layout, man, _mutate(original, rng), diff_id=False)
        try:
            with open_image(layout) as image, apply_layers(image, limits=LIMITS) as tree:
                list(tree)
            outcomes["ok"] += 1
        except ImageError:
            outcomes["error"] += 1
    assert outcomes["error"] > 0


def test_mutated_raw_tar_members_never_crash(tmp_path: Path) -> None:
    rng = random.Random(1414)
    raw = layer_tar(FILES)
    for i in range(80):
        layout = tmp_path / f"t{i}"
        build_oci_layout(layout, [_mutate(raw, rng)],
                         {"rootfs": {"type": "layers", "diff_ids": []}}, compression="none")
        try:
            with open_image(layout) as image, apply_layers(image, limits=LIMITS) as tree:
                for entry in tree.files():
                    tree.read_bytes(entry)
        except ImageError:
            pass


def _json_mutations(value: Any, rng: random.Random) -> Any:
    choices: list[Any] = [None, 0, -1, 10**30, "", "x", [], {}, True, [1], {"a": 1}]
    if isinstance(value, dict) and value and rng.random() < 0.7:
        key = rng.choice(list(value))
        copy = dict(value)
        if rng.random() < 0.3:
            del copy[key]
        else:
            copy[key] = _json_mutations(copy[key], rng)
        return copy
    if isinstance(value, list) and value and rng.random() < 0.7:
        copy_list = list(value)
        idx = rng.randrange(len(copy_list))
        copy_list[idx] = _json_mutations(copy_list[idx], rng)
        return copy_list
    return rng.choice(choices)


def _repoint(digest: str, size: int) -> Callable[[dict[str, Any]], None]:
    def change(index: dict[str, Any]) -> None:
        index["manifests"][0].update(digest=digest, size=size)

    return change


def _reconfig(digest: str, size: int) -> Callable[[dict[str, Any]], None]:
    def change(manifest: dict[str, Any]) -> None:
        manifest["config"].update(digest=digest, size=size)

    return change


def test_mutated_manifests_and_configs_never_crash(tmp_path: Path) -> None:
    rng = random.Random(2026)
    for i in range(80):
        layout = tmp_path / f"j{i}"
        man = build_oci_layout(layout, [FILES], {"config": {"User": "x", "Labels": {"a": "b"}}})
        manifest = json.loads(read_blob(layout, man))
        target = rng.choice(["manifest", "config", "index"])
        if target == "manifest":
            blob = json.dumps(_json_mutations(manifest, rng)).encode()
        else:
            config = json.loads(read_blob(layout, manifest["config"]["digest"]))
            blob = json.dumps(_json_mutations(config, rng)).encode()
        digest, size = write_blob(layout, blob)
        if target == "manifest":
            set_index(layout, _repoint(digest, size))
        elif target == "config":
            rewrite_manifest(layout, man, _reconfig(digest, size))
        else:
            index = json.loads((layout / "index.json").read_text())
            (layout / "index.json").write_text(json.dumps(_json_mutations(index, rng)))
        try:
            with open_image(layout) as image, apply_layers(image, limits=LIMITS) as tree:
                list(tree)
        except ImageError:
            pass
