"""Held-out contexts: file types and usage patterns the main corpus does not use.

The scanner and this corpus were written at the same time, so the main corpus can be learned.
This part (root ``holdout/``) plants the same kinds in other languages and idioms (XML configs,
Kotlin, Ruby, PHP, C#, Rust, SQL, compose environment lists, URL query strings, CLI flags,
``.npmrc``/``.netrc``, CSV, logs, base64 in Kubernetes secrets) to measure how well rules
generalise. It is scored separately.
"""

from __future__ import annotations

import base64
import random

import fillers
from kinds import KINDS
from layout import Item, camel
from recorder import Recorder

#: ext -> (file name, comment prefix, secret templates). {V} var, {c} camelCase, {s} secret.
CONTEXTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "xml": ("web.config", "<!--", ('    <add key="{V}" value="{s}" />',)),
    "kt": ("Config.kt", "//", ('    val {c} = "{s}"',)),
    "rb": ("config/initializers/clients.rb", "#", ("{V} = '{s}'", "  config.api_key = '{s}'")),
    "php": ("config/app.php", "//", ("define('{V}', '{s}');", "$config['{v}'] = \"{s}\";")),
    "cs": ("Settings.cs", "//", ('    private const string {C} = "{s}";',)),
    "rs": ("src/secrets.rs", "//", ('pub const {V}: &str = "{s}";',)),
    "compose": ("docker-compose.yml", "#", ("      - {V}={s}",)),
    "url": ("docs/api-examples.txt", "#", ("curl 'https://api.corp.example/v2/items?api_key={s}&limit=5'",)),
    "cli": ("Makefile", "#", ("\tdeploy-tool push --token={s} --region eu-west-1",)),
    "npmrc": (".npmrc", "#", ("//npm.pkg.github.com/:_authToken={s}",)),
    "netrc": ("ci/netrc", "#", ("machine api.corp.example login deploy password {s}",)),
    "csv": ("ops/credentials-export.csv", "#", ("prod,{v},{s},2024-05-01",)),
    "log": ("logs/app.log", "#",
            ("2024-06-01 12:00:01 DEBUG outgoing headers={{'Authorization': 'Bearer {s}'}}",)),
    "sql": ("db/migrations/0042_roles.sql", "--", ("ALTER ROLE etl WITH PASSWORD '{s}';",)),
    "k8s": ("k8s/app-secret.yaml", "#", ("  {v}: {b64}",)),
}  # fmt: skip

#: contexts where a URL-shaped secret would not be written
TOKEN_ONLY = ("url", "cli", "npmrc", "netrc", "log")

DECOYS: tuple[tuple[str, str, str], ...] = (
    ("xml", "placeholder", '    <add key="ApiKey" value="$(ApiKey)" />'),
    ("kt", "placeholder", '    val token = System.getenv("GITHUB_TOKEN")'),
    ("rb", "placeholder", "STRIPE_KEY = ENV['STRIPE_SECRET_KEY']"),
    ("php", "placeholder", "$password = getenv('DB_PASSWORD');"),
    ("cs", "placeholder", '    var key = Environment.GetEnvironmentVariable("OPENAI_API_KEY");'),
    ("compose", "placeholder", "      - API_TOKEN=${API_TOKEN}"),
    ("url", "placeholder", "curl 'https://api.corp.example/v2/items?api_key=YOUR_API_KEY'"),
    ("cli", "placeholder", "\tdeploy-tool push --token=$(GITHUB_TOKEN)"),
    ("npmrc", "placeholder", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}"),
    ("sql", "test-fixture", "CREATE USER test_user WITH PASSWORD 'password';"),
    ("log", "placeholder",
     "2024-06-01 12:00:02 DEBUG outgoing headers={'Authorization': '[REDACTED]'}"),
    ("k8s", "placeholder", "  admin-password: Y2hhbmdlbWU="),
    ("xml", "uuid", '    <add key="TenantId" value="3f2b8c1e-7d4a-4e9b-a1c2-9e8f7d6c5b4a" />'),
    ("csv", "hash", "prod,artifact-sha256,"
     "9f2c1d7e3b4a5c6d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d,2024-05-01"),
    ("rs", "hash", 'pub const MODEL_SHA256: &str = '
     '"5d41402abc4b2a76b9719d911017c592aa3b2c1d4e5f60718293a4b5c6d7e8f9";'),
)  # fmt: skip


def _filler(prefix: str, rng: random.Random, n: int) -> list[str]:
    end = " -->" if prefix == "<!--" else ""
    return [f"{prefix} {fillers.word(rng)} {fillers.word(rng)} {fillers.word(rng)}{end}"
            for _ in range(n)]  # fmt: skip


def build(rec: Recorder, rng: random.Random, count: int = 45) -> None:
    """Write ``out/holdout``: ``count`` secrets over the held-out contexts, plus decoys."""
    kinds = [k for k in KINDS if not k.multiline]
    exts = list(CONTEXTS)
    per_file: dict[str, list[Item]] = {e: [] for e in exts}
    for n in range(count):
        ext = exts[n % len(exts)]
        kind = rng.choice(kinds)
        while ext in TOKEN_ONLY and kind.name.endswith(("-url", "-dsn", "-string")):
            kind = rng.choice(kinds)
        value = kind.gen(rng)
        tmpl = rng.choice(CONTEXTS[ext][2])
        var = kind.var
        line = tmpl.format(
            V=var, v=var.lower().replace("_", "-") if ext == "k8s" else var.lower(),
            c=camel(var), C=camel(var)[0].upper() + camel(var)[1:], s=value,
            b64=base64.b64encode(value.encode()).decode(),
        )  # fmt: skip
        item = Item(var=var, value=value, kind=kind.name, line_tmpl=line, raw=True)
        item.needle = base64.b64encode(value.encode()).decode() if ext == "k8s" else value
        item.written = "base64" if ext == "k8s" else "raw"
        item.extra["context"] = f"holdout-{ext}"
        per_file[ext].append(item)
    for ext, category, line in DECOYS:
        item = Item(var="", value=line, category=category, line_tmpl=line, raw=True)
        item.needle = line
        item.extra["context"] = f"holdout-{ext}"
        per_file[ext].insert(rng.randrange(len(per_file[ext]) + 1), item)
    for ext, items in per_file.items():
        name, prefix, _ = CONTEXTS[ext]
        out = _filler(prefix, rng, 2)
        if ext == "k8s":
            out += ["apiVersion: v1", "kind: Secret", "metadata:", "  name: app", "data:"]
        for item in items:
            out += [item.line_tmpl or "", *_filler(prefix, rng, 2)]
        text = "\n".join(out) + "\n"
        rec.write("holdout", name, text, items, f"holdout-{ext}")
