"""Files made of decoys only: lockfiles, pinned CI, web assets, public keys, binaries."""

from __future__ import annotations

import base64
import json
import random

import decoys
import tokens as t
from layout import Item
from recorder import Recorder

PACKAGES = ("react", "lodash", "axios", "zod", "vite", "esbuild", "chalk", "dayjs", "uuid", "ws")
PY_PKGS = ("numpy", "pandas", "scikit-learn", "torch", "fastapi", "pydantic", "requests")


def _decoy(category: str, needle: str, note: str = "") -> Item:
    item = Item(var="", value=needle, category=category, note=note)
    item.needle = needle
    return item


def _sri(rng: random.Random) -> str:
    return "sha512-" + base64.b64encode(rng.randbytes(64)).decode()


def package_lock(rec: Recorder, rng: random.Random) -> None:
    items, packages = [], {"": {"name": "web", "version": "0.3.0"}}
    for name in PACKAGES[:8]:
        integrity = _sri(rng)
        packages[f"node_modules/{name}"] = {
            "version": f"{rng.randrange(1, 9)}.{rng.randrange(20)}.{rng.randrange(9)}",
            "resolved": f"https://registry.npmjs.org/{name}/-/{name}-1.0.0.tgz",
            "integrity": integrity,
        }
        items.append(_decoy("lockfile-integrity", f'"integrity": "{integrity}"'))
    doc = {"name": "web", "lockfileVersion": 3, "requires": True, "packages": packages}
    rec.write("tree", "web/package-lock.json", json.dumps(doc, indent=2) + "\n", items, "lockfile")


def yarn_lock(rec: Recorder, rng: random.Random) -> None:
    lines, items = ["# yarn lockfile v1", ""], []
    for name in PACKAGES[6:]:
        integrity = _sri(rng)
        lines += [
            f"{name}@^1.0.0:",
            '  version "1.2.0"',
            f'  resolved "https://registry.yarnpkg.com/{name}/-/{name}-1.2.0.tgz"',
            f"  integrity {integrity}",
            "",
        ]
        items.append(_decoy("lockfile-integrity", f"  integrity {integrity}"))
    rec.write("tree", "tools/bot/yarn.lock", "\n".join(lines), items, "lockfile")


def requirements(rec: Recorder, rng: random.Random) -> None:
    lines, items = ["# pinned with pip-compile --generate-hashes"], []
    for name in PY_PKGS[:6]:
        digest = t.rand(rng, t.HEX, 64)
        lines += [
            f"{name}==1.{rng.randrange(30)}.{rng.randrange(9)} \\",
            f"    --hash=sha256:{digest}",
        ]
        items.append(_decoy("lockfile-hash", f"    --hash=sha256:{digest}"))
    rec.write("tree", "ml/training/requirements.txt", "\n".join(lines) + "\n", items, "lockfile")


def go_sum(rec: Recorder, rng: random.Random) -> None:
    lines, items = [], []
    for mod in (
        "github.com/spf13/cobra",
        "golang.org/x/sync",
        "github.com/google/uuid",
        "gopkg.in/yaml.v3",
    ):
        line = f"{mod} v1.{rng.randrange(20)}.0 h1:{base64.b64encode(rng.randbytes(32)).decode()}"
        lines.append(line)
        items.append(_decoy("lockfile-hash", line))
    rec.write("tree", "go.sum", "\n".join(lines) + "\n", items, "lockfile")


def poetry_lock(rec: Recorder, rng: random.Random) -> None:
    lines, items = [], []
    for name in PY_PKGS[4:7]:
        digest = t.rand(rng, t.HEX, 64)
        entry = f'    {{file = "{name}-2.0.0-py3-none-any.whl", hash = "sha256:{digest}"}},'
        lines += [
            "[[package]]",
            f'name = "{name}"',
            'version = "2.0.0"',
            "files = [",
            entry,
            "]",
            "",
        ]
        items.append(_decoy("lockfile-hash", entry))
    rec.write("tree", "ml/poetry.lock", "\n".join(lines), items, "lockfile")


def ci_pins(rec: Recorder, rng: random.Random) -> None:
    shas = [t.rand(rng, t.HEX, 40) for _ in range(4)]
    lines = [
        "name: ci",
        "on: [push]",
        "jobs:",
        "  test:",
        "    runs-on: ubuntu-latest",
        "    steps:",
        f"      - uses: actions/checkout@{shas[0]}",
        "        with:",
        "          fetch-depth: 0",
        f"      - uses: actions/setup-python@{shas[1]}",
        "",
        "      - run: make test",
        "        env:",
        "          GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}",
    ]
    items = [
        _decoy("git-sha", lines[6]),
        _decoy("git-sha", lines[9]),
        _decoy("placeholder", lines[13]),
    ]
    rec.write("tree", ".github/workflows/ci.yml", "\n".join(lines) + "\n", items, "yaml")
    pre = [
        "repos:",
        "  - repo: https://github.com/astral-sh/ruff-pre-commit",
        f"    rev: {shas[2]}",
        "    hooks:",
        "      - id: ruff",
        "",
        "  - repo: https://github.com/pre-commit/mirrors-mypy",
        f"    rev: {shas[3]}",
        "    hooks:",
        "      - id: mypy",
    ]
    items = [_decoy("git-sha", pre[2]), _decoy("git-sha", pre[7])]
    rec.write("tree", ".pre-commit-config.yaml", "\n".join(pre) + "\n", items, "yaml")


def web_assets(rec: Recorder, rng: random.Random) -> None:
    css_hash = t.rand(rng, t.HEX, 8)
    img = decoys.png_base64(rng, 150)
    css = [
        f".btn-{css_hash} {{ color: #333; }}",
        "",
        ".logo {",
        f"  background: url(data:image/png;base64,{img});",
        "}",
        "",
        f".card-{t.rand(rng, t.LOWER_DIGITS, 6)} {{ margin: 0; }}",
    ]
    items = [_decoy("css-hash", css[0]), _decoy("base64-image", css[3]), _decoy("css-hash", css[6])]
    rec.write("tree", "web/static/styles.css", "\n".join(css) + "\n", items, "css")
    sri = "sha384-" + base64.b64encode(rng.randbytes(48)).decode()
    img2 = decoys.png_base64(rng, 100)
    html = [
        "<!doctype html>",
        "<html><head>",
        f'<script src="https://cdn.example.net/lib.min.js" integrity="{sri}" '
        'crossorigin="anonymous"></script>',
        "</head><body>",
        "",
        f'<img alt="logo" src="data:image/png;base64,{img2}">',
        "</body></html>",
    ]
    items = [_decoy("sri", html[2]), _decoy("base64-image", html[5])]
    rec.write("tree", "web/templates/index.html", "\n".join(html) + "\n", items, "html")


def public_keys(rec: Recorder, rng: random.Random) -> None:
    cert = t.pem("CERTIFICATE", t.der(0x30, rng.randbytes(700)))
    rec.write("tree", "certs/ca.crt", cert + "\n", [_decoy("certificate", cert)], "pem")
    blob = b"\x00\x00\x00\x07ssh-rsa\x00\x00\x00\x03\x01\x00\x01\x00\x00\x01\x01" + rng.randbytes(
        257
    )
    pub = "ssh-rsa " + base64.b64encode(blob).decode() + " ci@build"
    rec.write("tree", "keys/deploy.pub", pub + "\n", [_decoy("public-key", pub)], "pub")
    body = base64.b64encode(b"\x99\x01\x0d\x04" + rng.randbytes(269)).decode()
    block = (
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n"
        + "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
        + "\n-----END PGP PUBLIC KEY BLOCK-----"
    )
    rec.write(
        "tree", "keys/release-signing.asc", block + "\n", [_decoy("public-key", block)], "pgp"
    )


def binaries(rec: Recorder, rng: random.Random) -> None:
    """Binary files (no labels): scanners must skip them by content."""
    for rel, head in (
        ("assets/logo.png", b"\x89PNG\r\n\x1a\n"),
        ("models/encoder.onnx", b"\x08\x07"),
        ("lib/libfeat.so", b"\x7fELF\x02\x01\x01"),
    ):
        path = rec.out / "tree" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(head + rng.randbytes(20_000))


def build(rec: Recorder, rng: random.Random) -> None:
    for fn in (
        package_lock,
        yarn_lock,
        requirements,
        go_sum,
        poetry_lock,
        ci_pins,
        web_assets,
        public_keys,
        binaries,
    ):
        fn(rec, rng)
