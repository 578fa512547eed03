"""Notebooks (secrets in cell sources and in outputs) and archives (zip, tar.gz)."""

from __future__ import annotations

import gzip
import io
import json
import random
import tarfile
import zipfile
from typing import Any

import decoys
import kinds
import tokens as t
from layout import Item, json_escaped, render_lines
from recorder import Recorder


def _secret(kind: str, rng: random.Random) -> tuple[str, str]:
    k = kinds.KIND_BY_NAME[kind]
    return kind, k.gen(rng)


class Notebook:
    """Builds an nbformat-4 notebook and remembers where each planted item went."""

    def __init__(self) -> None:
        self.cells: list[dict[str, Any]] = []
        self.items: list[Item] = []

    def _plant(self, item: Item, part: str, text_lines: list[str]) -> None:
        cell_line = next(i for i, ln in enumerate(text_lines, 1) if item.value in ln)
        item.extra.update(cell=len(self.cells), part=part, cell_line=cell_line)
        if item.kind:
            item.needle = json_escaped(item.value)
            item.extra["context"] = "notebook-" + ("source" if part == "source" else "output")
        else:
            item.needle = json_escaped(text_lines[cell_line - 1].rstrip("\n"))
            item.extra["context"] = "notebook"
        self.items.append(item)

    def markdown(self, text: str) -> None:
        self.cells.append({"cell_type": "markdown", "metadata": {}, "source": _split(text)})

    def code(
        self,
        src: str,
        outputs: list[dict[str, Any]] | None = None,
        plant: Item | None = None,
        where: str = "source",
    ) -> None:
        outputs = outputs or []
        if plant is not None:
            if where == "source":
                self._plant(plant, "source", _split(src))
            else:
                idx = int(where)
                out = outputs[idx]
                text = out.get("text") or out.get("traceback") or out["data"]["text/plain"]
                self._plant(plant, f"outputs[{idx}]", text)
        self.cells.append(
            {
                "cell_type": "code",
                "execution_count": len(self.cells) + 1,
                "metadata": {},
                "outputs": outputs,
                "source": _split(src),
            }
        )

    def render(self) -> str:
        doc = {
            "cells": self.cells,
            "metadata": {
                "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        return json.dumps(doc, indent=1) + "\n"


def _split(text: str) -> list[str]:
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + [parts[-1]]


def _stream(text: str) -> dict[str, Any]:
    return {"name": "stdout", "output_type": "stream", "text": _split(text)}


def _result(text: str, n: int) -> dict[str, Any]:
    return {
        "data": {"text/plain": _split(text)},
        "execution_count": n,
        "metadata": {},
        "output_type": "execute_result",
    }


def _sec(kind: str, rng: random.Random) -> Item:
    name, value = _secret(kind, rng)
    return Item(var="", value=value, kind=name)


def notebooks(rec: Recorder, rng: random.Random) -> None:
    nb = Notebook()
    nb.markdown("# Explore the request dataset\nLoad the payloads and look at the labels.")
    s = _sec("huggingface-token", rng)
    nb.code(
        f'import os\nos.environ["HF_TOKEN"] = "{s.value}"\nfrom datasets import load_dataset',
        plant=s,
    )
    s = _sec("wandb-api-key", rng)
    nb.code(
        "print(config)",
        [_stream(f"{{'project': 'payload-clf', 'wandb_api_key': '{s.value}'}}")],
        plant=s,
        where="0",
    )
    img = decoys.png_base64(rng, 300)
    d = Item(var="", value=img[:60], category="base64-image", note="notebook image output")
    nb.code(
        "df.label.value_counts().plot.bar()",
        [
            {
                "data": {"image/png": img, "text/plain": ["<Figure size 640x480 with 1 Axes>"]},
                "metadata": {},
                "output_type": "display_data",
            }
        ],
    )
    d.needle = img[:60]
    d.extra.update(cell=len(nb.cells) - 1, part="outputs[0]", cell_line=1, context="notebook")
    nb.items.append(d)
    s = _sec("aws-secret-access-key", rng)
    nb.code(
        "!env | grep AWS",
        [_stream(f"AWS_REGION=eu-west-1\nAWS_SECRET_ACCESS_KEY={s.value}")],
        plant=s,
        where="0",
    )
    d = Item(var="", value='api_key = os.environ.get("OPENAI_API_KEY")', category="placeholder")
    nb.code(d.value + "\nprint(bool(api_key))", [_stream("True")], plant=d)
    rec.write("tree", "notebooks/01_explore_data.ipynb", nb.render(), nb.items, "notebook")

    nb = Notebook()
    s = _sec("wandb-api-key", rng)
    nb.code(f'import wandb\nwandb.login(key="{s.value}")', plant=s)
    s = _sec("openai-project-key", rng)
    nb.code(f'from openai import OpenAI\nclient = OpenAI(api_key="{s.value}")', plant=s)
    s = _sec("postgres-url", rng)
    tb = (
        "OperationalError                          Traceback (most recent call last)\n"
        f"OperationalError: could not connect to server: {s.value}"
    )
    err = {
        "ename": "OperationalError",
        "evalue": "could not connect",
        "output_type": "error",
        "traceback": _split(tb),
    }
    nb.code("engine = create_engine(DB_URL)\nengine.connect()", [err], plant=s, where="0")
    s = _sec("github-pat-classic", rng)
    nb.code("token", [_result(f"'{s.value}'", 4)], plant=s, where="0")
    h = t.rand(rng, t.HEX, 32)
    run_id = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-b{h[17:20]}-{h[20:]}"
    d = Item(var="", value=run_id, category="uuid")
    nb.code("run.id", [_result(f"'{run_id}'", 5)], plant=d, where="0")
    rec.write("tree", "notebooks/02_train.ipynb", nb.render(), nb.items, "notebook")

    nb = Notebook()
    s = _sec("anthropic-api-key", rng)
    nb.code(f'ANTHROPIC_API_KEY = "{s.value}"', plant=s)
    s = _sec("stripe-secret-key", rng)
    nb.code(f'import stripe\nstripe.api_key = "{s.value}"', plant=s)
    s = _sec("slack-webhook-url", rng)
    nb.code("notify(msg)", [_stream(f"posting to {s.value}\nok")], plant=s, where="0")
    s = _sec("huggingface-token", rng)
    nb.code(
        "settings",
        [_result(f"{{'model': 'distilbert', 'hf_token': '{s.value}'}}", 3)],
        plant=s,
        where="0",
    )
    d = Item(var="", value='password = "YOUR_PASSWORD"', category="placeholder")
    nb.code(d.value, plant=d)
    rec.write("tree", "notebooks/03_deploy.ipynb", nb.render(), nb.items, "notebook")


def _member_files(rng: random.Random) -> list[tuple[str, str, list[Item]]]:
    out = []
    for name, ext, plan in (
        ("config/prod.env", "env", ["sendgrid-api-key", "databricks-token", "#changeme"]),
        ("app/settings.py", "py", ["gitlab-pat", "replicate-api-token"]),
        ("deploy/values.yaml", "yaml", ["slack-bot-token", "#uuid", "groq-api-key"]),
        ("scripts/bootstrap.sh", "sh", ["npm-token", "private-key-openssh"]),
    ):
        items = []
        for entry in plan:
            if entry == "#changeme":
                items.append(
                    Item(var="ADMIN_PASSWORD_HINT", value="changeme", category="placeholder")
                )
            elif entry == "#uuid":
                h = t.rand(rng, t.HEX, 32)
                uid = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:]}"
                items.append(Item(var="TENANT_ID", value=uid, category="uuid"))
            else:
                k = kinds.KIND_BY_NAME[entry]
                items.append(Item(var=k.var, value=k.gen(rng), kind=k.name))
        multi = {i for i, it in enumerate(items) if it.kind == "private-key-openssh"}
        out.append((name, render_lines(ext, items, rng, multi), items))
    return out


def archives(rec: Recorder, rng: random.Random) -> None:
    members = _member_files(rng)
    zpath = rec.out / "tree" / "dist" / "config-bundle.zip"
    zpath.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text, items in members[:2]:
            zf.writestr(zipfile.ZipInfo(name, (2024, 6, 1, 12, 0, 0)), text)
            rec.record("tree", "dist/config-bundle.zip", text, items, "archive", member=name)
    tpath = rec.out / "tree" / "backups" / "deploy-2024-06.tar.gz"
    tpath.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        entries = [(n, x.encode(), i) for n, x, i in members[2:]]
        entries.append(("models/tokenizer.bin", b"\x00\x01\x02" + rng.randbytes(4000), []))
        for name, data, _ in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_717_243_200
            tf.addfile(info, io.BytesIO(data))
    tpath.write_bytes(gzip.compress(buf.getvalue(), mtime=0))
    for name, text, items in members[2:]:
        rec.record("tree", "backups/deploy-2024-06.tar.gz", text, items, "archive", member=name)
