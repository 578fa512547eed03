"""Benign, realistic filler text per file type (no credentials, low entropy)."""

from __future__ import annotations

import random

WORDS = [
    "model",
    "train",
    "dataset",
    "batch",
    "epoch",
    "loss",
    "metric",
    "feature",
    "label",
    "vector",
    "token",
    "request",
    "payload",
    "score",
    "threshold",
    "client",
    "server",
    "handler",
    "router",
    "config",
    "loader",
    "writer",
    "reader",
    "cache",
    "queue",
    "worker",
    "job",
    "task",
    "result",
    "report",
    "pipeline",
    "stage",
    "step",
    "artifact",
    "registry",
    "schema",
    "record",
    "window",
    "buffer",
    "stream",
    "frame",
    "sample",
    "split",
    "fold",
    "weight",
    "bias",
    "layer",
    "encoder",
    "decoder",
    "user",
    "account",
    "order",
    "invoice",
    "payment",
    "session",
    "profile",
    "event",
    "audit",
    "policy",
    "rule",
    "check",
    "limit",
]

_PY = (
    "def {a}_{b}({c}, {d}=None):",
    '    """Return the {a} {b} for the given {c}."""',
    "    {c}_{d} = {a}_{b}({c}, {d}={e})",
    "    if {c} is None:",
    '        raise ValueError("missing {c}")',
    "    return [{a} for {a} in {c}s if {a}.{b}]",
    "# {A} the {b} before the {c} is written",
    "{a}_{b}_limit = {n}",
    'logger.info("%s {a} {b}s processed", len({c}s))',
    "class {A}{B}({C}Base):",
    "    {a}: int = {n}",
    "for {a} in range({n}):",
    "    {c}.append({a} * {n})",
)
_JS = (
    "function {a}{B}({c}, {d}) {{",
    "  const {c}{D} = await fetch{A}({c});",
    "  if (!{c}) {{ throw new Error('missing {c}'); }}",
    "  return {c}s.filter(({a}) => {a}.{b} > {n});",
    "}}",
    "// {A} {b} handling for the {c} view",
    "export const {A}_{B}_LIMIT = {n};",
    "import {{ {a}{B} }} from './{c}/{d}.js';",
    "module.exports.{a}{B} = {a}{B};",
)
_GO = (
    "func {A}{B}({c} *{C}, {d} int) error {{",
    "\tif {c} == nil {{",
    '\t\treturn fmt.Errorf("missing {c}: %d", {d})',
    "\t}}",
    "\t{c}.{B} = append({c}.{B}, {d}*{n})",
    "\treturn nil",
    "}}",
    "// {A}{B} keeps the {c} of a {d}.",
)
_YAML = (
    "  {a}_{b}: {n}",
    "  {a}: {c}-{d}",
    "  # {b} settings for {c}",
    "  enable_{a}: true",
    "  {b}_path: /var/lib/{c}/{d}",
)
_SH = (
    'echo "{a} {b} for $1"',
    'if [ -z "${A}_{B}" ]; then',
    "  mkdir -p /opt/{c}/{d}",
    "fi",
    "# {A} the {b} before starting {c}",
    "{a}_{b}() {{ python -m {c}.{d} --{a} {n}; }}",
)
_MD = (
    "The {a} {b} reads every {c} and writes one {d} per row.",
    "",
    "## {A} {b}",
    "- `{a}_{b}`: how many {c}s to keep (default {n})",
    "Run `make {a}` to rebuild the {b} {c}.",
)
_OTHER = {
    "env": ("{A}_{B}={n}", "{A}_{C}_PATH=/srv/{c}", "# {b} for {c}", "{A}_ENABLED=true"),
    "tf": ("  {a}_{b} = {n}", '  name = "{a}-{b}"', "  # {b} for {c}", '  region = "eu-west-1"'),
    "dockerfile": (
        "RUN pip install --no-cache-dir {a}{b}",
        "COPY {c}/ /app/{c}/",
        "# {b} layer for {c}",
        "ENV {A}_{B}={n}",
        "WORKDIR /app/{d}",
    ),
    "ini": ("{a}_{b} = {n}", "{c} = {d}", "; {b} for {c}"),
    "properties": ("app.{a}.{b}={n}", "app.{c}.name={d}", "# {b} for {c}"),
    "toml": ("{a}_{b} = {n}", '{c} = "{d}"', "# {b} for {c}"),
}
_TEMPLATES = {"py": _PY, "js": _JS, "go": _GO, "yaml": _YAML, "sh": _SH, "md": _MD, **_OTHER}


def word(rng: random.Random) -> str:
    return rng.choice(WORDS)


def fill(template: str, rng: random.Random) -> str:
    a, b, c, d, e = (rng.choice(WORDS) for _ in range(5))
    return template.format(
        a=a,
        b=b,
        c=c,
        d=d,
        e=e,
        n=rng.randrange(2, 500),
        A=a.capitalize(),
        B=b.capitalize(),
        C=c.capitalize(),
        D=d.capitalize(),
    )


def lines(ext: str, rng: random.Random, count: int) -> list[str]:
    pool = _TEMPLATES.get(ext, _TEMPLATES["py"])
    return [fill(rng.choice(pool), rng) for _ in range(count)]


def header(ext: str, rng: random.Random) -> list[str]:
    w = word(rng)
    return {
        "py": [f'"""{w.capitalize()} settings."""', "import os", "import logging", ""],
        "js": ["'use strict';", f"const {w} = require('./{w}');", ""],
        "go": ["package config", "", 'import "fmt"', "", "const ("],
        "yaml": [f"# {w} service", f"{w}:"],
        "sh": ["#!/usr/bin/env bash", "set -euo pipefail"],
        "md": [f"# {w.capitalize()} service", "", "How to run it locally:"],
        "tf": [f'provider "{w}" {{'],
        "dockerfile": ["FROM python:3.11-slim", "WORKDIR /app"],
        "ini": [f"[{w}]"],
        "toml": [f"[tool.{w}]"],
    }.get(ext, [])


def footer(ext: str) -> list[str]:
    return {"go": [")"], "tf": ["}"], "dockerfile": ['CMD ["python", "-m", "app"]']}.get(ext, [])


def json_pair(rng: random.Random) -> tuple[str, object]:
    a, b = word(rng), word(rng)
    return rng.choice(
        [
            (f"{a}_{b}", rng.randrange(1, 1000)),
            (f"{a}_{b}_enabled", rng.random() < 0.5),
            (f"{a}_{b}_name", f"{b}-{a}"),
        ]
    )
