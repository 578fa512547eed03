"""The large throughput tree: many unique source/config/doc files, some binaries, a few secrets.

Every file is different (random identifiers and numbers throughout), so a content-addressed cache
cannot shortcut the first scan.
"""

from __future__ import annotations

import json
import random
import shutil

import fillers
import kinds
from layout import Item
from recorder import Recorder

MIB = 1 << 20
EXTS = ("py", "py", "py", "js", "js", "go", "yaml", "md", "sh", "json", "toml", "dockerfile")
BINARY = (
    (".png", b"\x89PNG\r\n\x1a\n"),
    (".so", b"\x7fELF\x02\x01\x01\x00"),
    (".onnx", b"\x08\x07\x12\x07pytorch"),
    (".npy", b"\x93NUMPY\x01\x00"),
    (".jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF"),
)
PLANT = (
    "aws-access-key-id",
    "github-pat-classic",
    "slack-bot-token",
    "huggingface-token",
    "stripe-secret-key",
    "private-key-ec",
    "postgres-url",
    "anthropic-api-key",
)
NAME_POOL = tuple(f"{a}_{b}" for a in fillers.WORDS[:40] for b in fillers.WORDS[40:])


def _text_file(ext: str, rng: random.Random, size: int) -> str:
    if ext == "json":
        rows = []
        total = 0
        while total < size:
            row = {
                "id": rng.randrange(10**9),
                "name": rng.choice(NAME_POOL),
                "score": round(rng.random(), 4),
                "tags": rng.sample(fillers.WORDS, 3),
                "enabled": rng.random() < 0.5,
            }
            rows.append(row)
            total += 110
        return json.dumps({"items": rows}, indent=1) + "\n"
    out = fillers.header(ext, rng)
    total = 0
    pick = fillers.lines
    while total < size:
        chunk = pick(ext, rng, 20)
        out.extend(chunk)
        total += sum(len(c) + 1 for c in chunk)
    out.extend(fillers.footer(ext))
    return "\n".join(out) + "\n"


def _file_name(ext: str, rng: random.Random, n: int) -> str:
    stem = f"{rng.choice(NAME_POOL)}_{n}"
    if ext == "dockerfile":
        return f"Dockerfile.{stem}"
    return f"{stem}.{ext}"


def build(rec: Recorder, rng: random.Random, target_mib: int) -> dict[str, int]:
    """Write ``out/large`` until it holds ``target_mib`` MiB; returns byte and file counts."""
    root = rec.out / "large"
    if root.exists():
        shutil.rmtree(root)
    total = text_bytes = files = 0
    target = target_mib * MIB
    expected_files = target // 28_000
    plant_at = sorted(rng.sample(range(max(2 * len(PLANT), expected_files // 2)), len(PLANT)))
    n = 0
    while total < target:
        top = f"pkg{n // 400:03d}"
        sub = rng.choice(fillers.WORDS)
        folder = root / top / sub
        folder.mkdir(parents=True, exist_ok=True)
        if n % 53 == 52:
            suffix, head = rng.choice(BINARY)
            data = head + rng.randbytes(rng.randrange(20_000, 250_000))
            (folder / f"{rng.choice(NAME_POOL)}_{n}{suffix}").write_bytes(data)
            total += len(data)
        else:
            ext = rng.choice(EXTS)
            size = (
                rng.randrange(2_000, 30_000)
                if n % 200 != 199
                else rng.randrange(500_000, 2_000_000)
            )
            text = _text_file(ext, rng, size)
            rel = f"{top}/{sub}/{_file_name(ext, rng, n)}"
            if plant_at and n >= plant_at[0] and ext != "json":
                plant_at.pop(0)
                text = _plant(rec, rng, rel, ext, text, PLANT[len(PLANT) - len(plant_at) - 1])
            (root / rel).write_text(text, encoding="utf-8")
            size_b = len(text.encode())
            total += size_b
            text_bytes += size_b
        files += 1
        n += 1
    return {"bytes": total, "text_bytes": text_bytes, "files": files}


def _plant(rec: Recorder, rng: random.Random, rel: str, ext: str, text: str, kind: str) -> str:
    k = kinds.KIND_BY_NAME[kind]
    value = k.gen(rng)
    lines = text.split("\n")
    at = rng.randrange(1, max(2, len(lines) - 2))
    if k.multiline:
        line = f'{k.var} = """{value}"""' if ext == "py" else value
    else:
        line = f'{k.var}="{value}"'
    lines.insert(at, line)
    new = "\n".join(lines)
    item = Item(var=k.var, value=value, kind=kind)
    item.needle = value
    rec.record("large", rel, new, [item], ext)
    return new
