"""What both parts of the DAST benchmark app share: the route registry (each route carries its
label), the safe header baseline and the per-route page policy, a fresh SQLite database per
request, a small rate limiter, HTML helpers.

The registry is the single source of the labels: ``app.py --write-labels`` writes
``labels.json`` from it, and the tests check that the file and the app agree. The scanner only
ever sees HTTP, never this file.
"""

# ruff: noqa: S602  (deliberately vulnerable benchmark code)

from __future__ import annotations

import html
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Headers every response gets unless its route's page policy says otherwise: a correctly
# configured site, so page-level findings are only right where a route drops or weakens one.
BASELINE = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; object-src 'none'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Server": "bench",  # no version: Werkzeug's own banner would otherwise be on every page
}


@dataclass
class Route:
    """One labelled route. ``path`` is the Flask rule (``<name>`` for a path segment)."""

    part: str
    method: str
    path: str
    param: str
    kind: str
    vulnerable: bool
    twin_of: str = ""
    note: str = ""
    also: tuple[str, ...] = ()        # further kinds this same route really has (labelled too)
    alt: tuple[str, ...] = ()         # other paths where a finding also counts (stored XSS view)
    view: Callable[..., Any] | None = None
    page: dict[str, Any] = field(default_factory=dict)   # {"drop": [...], "set": {...}}
    link: str | None = None           # how the index links it ("" = not linked)
    form: tuple[str, ...] = ()        # POST form fields shown on the index
    body: dict[str, Any] | None = None   # JSON example body: listed in /openapi.json
    auth: bool = False

    def label(self) -> dict[str, Any]:
        return {"part": self.part, "method": self.method, "path": self.path,
                "param": self.param, "kind": self.kind, "vulnerable": self.vulnerable,
                "twin_of": self.twin_of, "note": self.note, "alt": list(self.alt)}


class Registry:
    """Collects one part's routes; ``app.py`` mounts the parts it is asked for."""

    def __init__(self, part: str) -> None:
        self.part = part
        self.routes: list[Route] = []
        self.extra: list[Route] = []   # labels without a view of their own (debug files, 404s)
        self.plain_routes: list[tuple[str, Callable[..., Any]]] = []   # unlabelled pages

    def plain(self, path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """An unlabelled GET page (the view of a stored-XSS pair), linked from the index."""
        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.plain_routes.append((path, fn))
            return fn
        return deco

    def route(self, path: str, kind: str, *, vuln: bool, param: str = "", method: str = "GET",
              twin_of: str = "", note: str = "", also: tuple[str, ...] = (),
              alt: tuple[str, ...] = (), page: dict[str, Any] | None = None,
              link: str | None = None, form: tuple[str, ...] = (),
              body: dict[str, Any] | None = None, auth: bool = False
              ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.routes.append(Route(self.part, method, path, param, kind, vuln, twin_of, note,
                                     also, alt, fn, page or {}, link, form, body, auth))
            return fn
        return deco

    def label_only(self, path: str, kind: str, *, vuln: bool, note: str = "",
                   method: str = "GET") -> None:
        self.extra.append(Route(self.part, method, path, "", kind, vuln, note=note, link=""))

    def labels(self) -> list[dict[str, Any]]:
        out = []
        for r in self.routes + self.extra:
            out.append(r.label())
            for k in r.also:
                out.append({**r.label(), "kind": k, "note": f"also: {r.note}".strip()})
        return out


# --- helpers for the routes ---------------------------------------------------------------------

def esc(s: str) -> str:
    return html.escape(s, quote=True)


def page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"</head><body><h1>{esc(title)}</h1>\n{body}\n"
            f"<p><a href='/'>home</a></p></body></html>")


SCHEMA = """
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT, team TEXT, score INTEGER);
INSERT INTO users VALUES (1,'alice','alice@example.test','research',91),
  (2,'bob','bob@example.test','platform',78),(3,'carol','carol@example.test','research',85),
  (4,'dave','dave@example.test','sales',60);
CREATE TABLE models (id INTEGER PRIMARY KEY, name TEXT, version TEXT, owner TEXT);
INSERT INTO models VALUES (1,'resnet','1.2','alice'),(2,'bert','0.9','bob'),
  (3,'xgb-churn','3.1','carol');
CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT, title TEXT, price REAL);
INSERT INTO items VALUES (1,'A-100','GPU hours',2.5),(2,'B-200','Storage TB',20.0),
  (3,'C-300','Inference calls',0.01);
CREATE TABLE audit (id INTEGER PRIMARY KEY, at TEXT, what TEXT);
INSERT INTO audit VALUES (1,'2026-01-01','deploy'),(2,'2026-02-01','rollback');
"""


def db() -> sqlite3.Connection:
    """A fresh in-memory database per request: nothing an injection does survives it."""
    con = sqlite3.connect(":memory:")
    con.executescript(SCHEMA)
    return con


class Limiter:
    """At most ``n`` requests per ``window`` seconds per key, else 429 with Retry-After."""

    def __init__(self, n: int = 20, window: float = 1.0) -> None:
        self.n, self.window = n, window
        self.hits: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self.lock:
            hits = [t for t in self.hits.get(key, []) if now - t < self.window]
            ok = len(hits) < self.n
            if ok:
                hits.append(now)
            self.hits[key] = hits
            return ok


LIMITER = Limiter()


class Store:
    """Per-app-instance stored messages (stored XSS): a fresh app starts empty."""

    def __init__(self) -> None:
        self.items: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    def add(self, key: str, value: str) -> None:
        with self.lock:
            lst = self.items.setdefault(key, [])
            lst.append(value[:2000])
            del lst[:-20]

    def get(self, key: str) -> list[str]:
        with self.lock:
            return list(self.items.get(key, []))


STORE = Store()


def classify(features: list[float]) -> tuple[str, float, dict[str, float]]:
    """The 'model': a fixed linear score over the features."""
    s = sum(features) / (len(features) or 1)
    p = 1 / (1 + 2.718281828 ** (-s))
    probs = {"approve": round(p, 4), "review": round((1 - p) / 2, 4),
             "reject": round((1 - p) / 2, 4)}
    label = max(probs, key=lambda k: probs[k])
    return label, probs[label], probs


_FILES: list[str] = []


def files_root() -> str:
    """A folder of harmless documents the traversal routes read from (made once per process)."""
    import os
    import tempfile
    if not _FILES:
        root = tempfile.mkdtemp(prefix="dast-bench-")
        for sub, name, text in [("", "readme.txt", "Model serving docs.\n"),
                                ("", "model-card.txt", "resnet 1.2: image classifier.\n"),
                                ("handbook", "intro.txt", "Welcome to the team handbook.\n"),
                                ("handbook", "oncall.txt", "Pager rota.\n"),
                                ("manual", "intro.txt", "Operator manual.\n")]:
            os.makedirs(os.path.join(root, sub), exist_ok=True)
            with open(os.path.join(root, sub, name), "w", encoding="utf-8") as f:
                f.write(text)
        _FILES.append(root)
    return _FILES[0]


def shell(cmd: str) -> str:
    """Deliberately vulnerable: a shell command line built from user input (127.0.0.1 only)."""
    import subprocess
    try:
        p = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=15)
    except subprocess.TimeoutExpired:
        return ""
    return p.stdout[:4000]


def run_args(args: list[str]) -> str:
    """The safe twin: an argument vector, no shell."""
    import subprocess
    p = subprocess.run(args, capture_output=True, text=True, timeout=15)
    return p.stdout[:4000]


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def fetch_loopback(url: str) -> tuple[int, str]:
    """The vulnerable SSRF fetch: any http:// URL, but only to loopback, so the benchmark never
    reaches the internet. Returns (status, body start)."""
    import urllib.error
    import urllib.parse
    import urllib.request
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http" or (u.hostname or "") not in LOOPBACK:
        return 400, "this benchmark only fetches http:// URLs on loopback"
    try:
        with urllib.request.urlopen(url, timeout=3) as r:  # noqa: S310 (deliberate SSRF)
            return 200, r.read(2000).decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return 502, f"upstream answered {e.code}"
    except (OSError, ValueError) as e:
        return 502, f"fetch failed: {type(e).__name__}"
