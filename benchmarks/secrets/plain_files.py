"""The working tree of the labelled corpus: source and config files with secrets and decoys."""

from __future__ import annotations

import json
import random

import decoys
import fillers
import special_files
import tokens as t
from kinds import KINDS, Kind
from layout import Item, render_json, render_lines
from recorder import Recorder

DIRS = {
    "py": ("src/app", "services/billing", "ml/training", "scripts", "src/app/clients"),
    "js": ("web/src", "web/src/api", "tools/bot"),
    "go": ("cmd/server", "internal/config"),
    "yaml": ("deploy/helm/values", "config", ".github/workflows"),
    "json": ("config", "web/config"),
    "env": ("", "deploy", "services/billing"),
    "tf": ("infra/terraform", "infra/modules/storage"),
    "dockerfile": ("", "services/billing", "ml/serving"),
    "md": ("docs", "ml/training"),
    "sh": ("scripts", "deploy"),
    "ini": ("config", ""),
    "properties": ("services/java-api/src/main/resources",),
    "toml": ("config", "ml"),
    "pem": ("keys", "certs/private", "deploy/ssh"),
}
RAW_EXT = {
    "api_key": "py",
    "token =": "py",
    "password =": "py",
    "const ": "js",
    "secret :=": "go",
    "aws_secret": "ini",
    "git checkout": "sh",
    "assert ": "py",
    "user = ": "py",
}


def _file_name(ext: str, idx: int, rng: random.Random) -> str:
    folder = DIRS[ext][idx % len(DIRS[ext])]
    stem = f"{fillers.word(rng)}_{fillers.word(rng)}"
    name = {
        "dockerfile": f"Dockerfile.{stem}" if idx else "Dockerfile",
        "env": f".env.{stem}" if idx else ".env",
        "pem": rng.choice(["id_rsa", "server.key", "signing.pem", "tls.key"]) + f".{idx}",
        "md": f"{stem.upper()}.md",
    }.get(ext, f"{stem}.{ext}")
    return f"{folder}/{name}" if folder else name


def _raw_ext(item: Item) -> str:
    for prefix, ext in RAW_EXT.items():
        if item.value.startswith(prefix):
            return ext
    return "py"


def _plan_secrets(rng: random.Random, per_kind: int) -> dict[str, list[tuple[Kind, Item]]]:
    by_ext: dict[str, list[tuple[Kind, Item]]] = {}
    for kind in KINDS:
        if kind.exts == ("sa-json",):
            continue
        exts = list(kind.exts)
        rng.shuffle(exts)
        snippet_exts = [e for e in kind.snippets if e in exts]
        for n in range(per_kind):
            ext = snippet_exts[0] if (n == 0 and snippet_exts) else exts[n % len(exts)]
            tmpl = rng.choice(kind.snippets[ext]) if ext in kind.snippets else None
            if kind.multiline and ext == "pem":
                tmpl = None
            item = Item(var=kind.var, value=kind.gen(rng), kind=kind.name, line_tmpl=tmpl)
            by_ext.setdefault(ext, []).append((kind, item))
    return by_ext


def _decoy_pool(rng: random.Random) -> list[Item]:
    pool = (
        decoys.placeholders(rng)
        + decoys.documented_examples()
        + decoys.hashes(rng)
        + decoys.uuids(rng)
        + decoys.git_shas(rng)
        + decoys.images(rng)
        + decoys.malformed(rng)
        + decoys.fixtures()
        + decoys.high_entropy(rng)
    )
    rng.shuffle(pool)
    return pool


def build(rec: Recorder, rng: random.Random, per_kind: int = 2) -> None:
    """Write the plain files of the ``tree`` root."""
    by_ext = _plan_secrets(rng, per_kind)
    pool = _decoy_pool(rng)
    raw = [d for d in pool if d.raw]
    plain = [d for d in pool if not d.raw]
    files: list[tuple[str, list[Item]]] = []
    for ext in sorted(by_ext):
        entries = by_ext[ext]
        if ext == "pem":
            files += [(ext, [item]) for _, item in entries]
            continue
        for start in range(0, len(entries), 3):
            files.append((ext, [item for _, item in entries[start : start + 3]]))
    # spread the decoys over the files that can hold a one-line assignment
    targets = [f for f in files if f[0] != "pem"]
    for i, item in enumerate(plain):
        _, items = targets[i % len(targets)]
        items.insert(rng.randrange(len(items) + 1), item)
    for item in raw:
        ext = _raw_ext(item)
        files.append((ext, [item]))
    counters: dict[str, int] = {}
    for ext, items in files:
        idx = counters.get(ext, 0)
        counters[ext] = idx + 1
        multi_idx = {j for j, it in enumerate(items) if it.kind and _is_multiline(it.kind)}
        rel = _file_name(ext, idx, rng)
        if ext == "json":
            text = render_json(items, rng)
        elif ext == "pem":
            text = items[0].value + "\n"
            items[0].needle = items[0].value
        else:
            text = render_lines(ext, items, rng, multi_idx)
        rec.write("tree", rel, text, items, ext)
    _service_accounts(rec, rng)
    special_files.build(rec, rng)


def _is_multiline(kind_name: str) -> bool:
    return any(k.name == kind_name and k.multiline for k in KINDS)


def _service_accounts(rec: Recorder, rng: random.Random) -> None:
    """GCP service-account key files: the whole JSON is the credential."""
    for n, name in enumerate(("trainer", "batch-inference")):
        key = t.pkcs8_private_key(rng)
        doc = {
            "type": "service_account",
            "project_id": f"ml-platform-{rng.randrange(1000, 9999)}",
            "private_key_id": t.rand(rng, t.HEX, 40),
            "private_key": key + "\n",
            "client_email": f"{name}@ml-platform.iam.gserviceaccount.com",
            "client_id": str(rng.randrange(10**20, 10**21)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
        text = json.dumps(doc, indent=2) + "\n"
        item = Item(var="private_key", value=key, kind="gcp-service-account-key")
        item.needle = json.dumps(key)[1:-1]
        item.written = "json"
        item.extra["end_line"] = text.count("\n")
        rel = f"secrets/gcp-{name}-sa.json" if n else f"ml/credentials/{name}-sa.json"
        rec.write("tree", rel, text, [item], "json")
