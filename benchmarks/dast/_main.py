"""The MAIN (tuning) part of the DAST benchmark app. Written after the held-out part
(``_heldout.py``), with other names, parameters and variants of each kind.

Each route says its kind and whether it is the vulnerable one or the safe twin.
"""

# ruff: noqa: S608  (deliberately vulnerable benchmark code)

from __future__ import annotations

import contextlib
import json
import os
import traceback
from typing import Any

from _common import (
    LIMITER,
    STORE,
    Registry,
    classify,
    db,
    esc,
    fetch_loopback,
    files_root,
    page,
    run_args,
    shell,
)
from flask import Response, jsonify, redirect, render_template_string, request

R = Registry("main")


def _limited() -> Response | None:
    if not LIMITER.allow(request.path):
        return Response("slow down", status=429, headers={"Retry-After": "1"})
    return None


def _ltgtamp(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- xss-reflected --------------------------------------------------------------------------

@R.route("/search", "xss-reflected", vuln=True, param="q", note="HTML body")
def search() -> str:  # VULNERABLE: raw in the body
    q = request.args.get("q", "")
    return page("Search", f"<p>Results for {q}</p><p>No models found.</p>")


@R.route("/products", "xss-reflected", vuln=False, param="query", twin_of="/search")
def products() -> str:  # TWIN
    q = esc(request.args.get("query", ""))
    return page("Products", f"<p>Results for {q}</p><p>No products found.</p>")


@R.route("/profile", "xss-reflected", vuln=True, param="name", note="double-quoted attribute")
def profile() -> str:  # VULNERABLE: a " breaks out of value="..."
    n = _ltgtamp(request.args.get("name", ""))
    return page("Profile", f"<form><input name=\"name\" value=\"{n}\"><button>Save</button>"
                           f"</form>")


@R.route("/account/edit", "xss-reflected", vuln=False, param="display", twin_of="/profile")
def account_edit() -> str:  # TWIN
    n = esc(request.args.get("display", ""))
    return page("Edit account", f"<form><input name=\"display\" value=\"{n}\">"
                                f"<button>Save</button></form>")


@R.route("/greet", "xss-reflected", vuln=True, param="user",
         note="JS string, only <>& escaped")
def greet() -> str:  # VULNERABLE: a " ends the JS string
    u = _ltgtamp(request.args.get("user", ""))
    return page("Greeting", f"<script>var user = \"{u}\"; document.title = user;</script>"
                            f"<p>Hi!</p>")


@R.route("/welcome", "xss-reflected", vuln=False, param="visitor", twin_of="/greet")
def welcome() -> str:  # TWIN: JSON-encoded with <>& escaped as \\u003c …
    v = json.dumps(request.args.get("visitor", "")).replace("<", "\\u003c") \
        .replace(">", "\\u003e").replace("&", "\\u0026")
    return page("Welcome", f"<script>var visitor = {v}; document.title = visitor;</script>")


@R.route("/link", "xss-reflected", vuln=True, param="url", note="URL in href, any scheme")
def link() -> str:  # VULNERABLE: javascript: URLs allowed
    u = esc(request.args.get("url", "/"))
    return page("Link", f"<a id=\"go\" href=\"{u}\">continue</a>")


@R.route("/bookmark", "xss-reflected", vuln=False, param="href", twin_of="/link")
def bookmark() -> str:  # TWIN: http(s) or relative only
    u = request.args.get("href", "/")
    if not (u.startswith(("http://", "https://")) or (u.startswith("/")
                                                        and not u.startswith("//"))):
        u = "/"
    return page("Bookmark", f"<a id=\"go\" href=\"{esc(u)}\">continue</a>")


@R.route("/contact/preview", "xss-reflected", vuln=True, param="message", method="POST",
         form=("message",), note="POST form, HTML body")
def contact_preview() -> str:  # VULNERABLE
    return page("Preview", f"<div class=\"msg\">{request.form.get('message', '')}</div>")


@R.route("/contact/review", "xss-reflected", vuln=False, param="comment", method="POST",
         form=("comment",), twin_of="/contact/preview")
def contact_review() -> str:  # TWIN
    return page("Review", f"<div class=\"msg\">{esc(request.form.get('comment', ''))}</div>")


# --- xss-stored -------------------------------------------------------------------------------

@R.route("/guestbook/sign", "xss-stored", vuln=True, param="entry", method="POST",
         form=("entry",), alt=("/guestbook",))
def guestbook_sign() -> Any:  # VULNERABLE: shown raw on /guestbook
    STORE.add("guestbook", request.form.get("entry", ""))
    return redirect("/guestbook")


@R.plain("/guestbook")
def guestbook() -> str:
    return page("Guestbook", "".join(f"<blockquote>{e}</blockquote>"
                                     for e in STORE.get("guestbook")))


@R.route("/reviews/add", "xss-stored", vuln=False, param="review", method="POST",
         form=("review",), alt=("/reviews",), twin_of="/guestbook/sign")
def reviews_add() -> Any:  # TWIN: escaped on /reviews
    STORE.add("reviews", request.form.get("review", ""))
    return redirect("/reviews")


@R.plain("/reviews")
def reviews() -> str:
    return page("Reviews", "".join(f"<blockquote>{esc(e)}</blockquote>"
                                   for e in STORE.get("reviews")))


# --- sqli -------------------------------------------------------------------------------------

@R.route("/items", "sqli", vuln=True, param="id", link="/items?id=1",
         note="numeric, error text shown")
def items() -> Any:  # VULNERABLE
    try:
        row = db().execute(f"SELECT sku, title FROM items WHERE id = {request.args.get('id', '1')}"
                           ).fetchone()
    except Exception as e:
        return Response(page("Error", f"<p>Database error: {esc(str(e))}</p>"), status=500)
    return page("Item", f"<p>{esc(str(row))}</p>")


@R.route("/catalog/item", "sqli", vuln=False, param="item_id", link="/catalog/item?item_id=1",
         twin_of="/items")
def catalog_item() -> Any:  # TWIN
    row = db().execute("SELECT sku, title FROM items WHERE id = ?",
                       (request.args.get("item_id", "1"),)).fetchone()
    return page("Item", f"<p>{esc(str(row))}</p>")


@R.route("/users/lookup", "sqli", vuln=True, param="username", link="/users/lookup?username=bob",
         note="string, boolean (errors hidden)")
def users_lookup() -> str:  # VULNERABLE
    try:
        row = db().execute(f"SELECT email FROM users WHERE name = "
                           f"'{request.args.get('username', '')}'").fetchone()
    except Exception:
        row = None
    return page("Lookup", f"<p>{esc(row[0])}</p>" if row else "<p>No such user.</p>")


@R.route("/members/lookup", "sqli", vuln=False, param="login", link="/members/lookup?login=bob",
         twin_of="/users/lookup")
def members_lookup() -> str:  # TWIN
    row = db().execute("SELECT email FROM users WHERE name = ?",
                       (request.args.get("login", ""),)).fetchone()
    return page("Lookup", f"<p>{esc(row[0])}</p>" if row else "<p>No such user.</p>")


@R.route("/audit", "sqli", vuln=True, param="since", link="/audit?since=2026-01-01",
         note="time-based only: the page never changes")
def audit() -> str:  # VULNERABLE: blind, only a delay shows it
    with contextlib.suppress(Exception):
        db().execute(f"SELECT count(*) FROM audit WHERE at >= '{request.args.get('since', '')}'"
                     ).fetchone()
    return page("Audit", "<p>The audit export has been scheduled.</p>")


@R.route("/history", "sqli", vuln=False, param="after", link="/history?after=2026-01-01",
         twin_of="/audit")
def history() -> str:  # TWIN
    db().execute("SELECT count(*) FROM audit WHERE at >= ?",
                 (request.args.get("after", ""),)).fetchone()
    return page("History", "<p>The history export has been scheduled.</p>")


@R.route("/models/<name>/card", "sqli", vuln=True, param="name", link="/models/bert/card",
         note="path segment")
def model_card(name: str) -> Any:  # VULNERABLE
    try:
        row = db().execute(f"SELECT name, version, owner FROM models WHERE name = '{name}'"
                           ).fetchone()
    except Exception as e:
        return Response(page("Error", f"<p>{esc(str(e))}</p>"), status=500)
    if not row:
        return Response(page("Model", "<p>Unknown model.</p>"), status=404)
    return page("Model card", f"<p>{esc(row[0])} v{esc(row[1])} by {esc(row[2])}</p>")


@R.route("/datasets/<name>/card", "sqli", vuln=False, param="name", link="/datasets/bert/card",
         twin_of="/models/<name>/card")
def dataset_card(name: str) -> Any:  # TWIN
    row = db().execute("SELECT name, version, owner FROM models WHERE name = ?",
                       (name,)).fetchone()
    if not row:
        return Response(page("Dataset", "<p>Unknown dataset.</p>"), status=404)
    return page("Dataset card", f"<p>{esc(row[0])} v{esc(row[1])} by {esc(row[2])}</p>")


@R.route("/api/v1/lookup", "sqli", vuln=True, param="model", method="POST",
         body={"model": "bert"}, note="JSON body")
def api_lookup() -> Any:  # VULNERABLE
    m = str((request.get_json(silent=True) or {}).get("model", ""))
    try:
        row = db().execute(f"SELECT name, version FROM models WHERE name = '{m}'").fetchone()
    except Exception as e:
        return jsonify(error=str(e)), 500
    return jsonify(found=bool(row), version=row[1] if row else None)


@R.route("/api/v1/describe", "sqli", vuln=False, param="model", method="POST",
         body={"model": "bert"}, twin_of="/api/v1/lookup")
def api_describe() -> Any:  # TWIN
    m = str((request.get_json(silent=True) or {}).get("model", ""))
    row = db().execute("SELECT name, version FROM models WHERE name = ?", (m,)).fetchone()
    return jsonify(found=bool(row), version=row[1] if row else None)


@R.route("/login", "sqli", vuln=True, param="username", method="POST",
         form=("username", "password"), note="POST form, boolean")
def login() -> str:  # VULNERABLE
    try:
        row = db().execute(f"SELECT id FROM users WHERE name = '{request.form.get('username')}'"
                           f" AND email = '{request.form.get('password')}'").fetchone()
    except Exception:
        row = None
    return page("Login", "<p>Welcome!</p>" if row else "<p>Invalid credentials.</p>")


@R.route("/signin", "sqli", vuln=False, param="user", method="POST",
         form=("user", "pass"), twin_of="/login")
def signin() -> str:  # TWIN
    row = db().execute("SELECT id FROM users WHERE name = ? AND email = ?",
                       (request.form.get("user"), request.form.get("pass"))).fetchone()
    return page("Sign in", "<p>Welcome!</p>" if row else "<p>Invalid credentials.</p>")


# --- cmdi -------------------------------------------------------------------------------------

@R.route("/tools/ping", "cmdi", vuln=True, param="host", link="/tools/ping?host=localhost")
def tools_ping() -> str:  # VULNERABLE: shell=True with the host in it (harmless echo)
    out = shell(f"echo pinging {request.args.get('host', '')}")
    return page("Ping", f"<pre>{esc(out)}</pre>")


@R.route("/tools/trace", "cmdi", vuln=False, param="target", link="/tools/trace?target=localhost",
         twin_of="/tools/ping")
def tools_trace() -> str:  # TWIN: argument vector
    out = run_args(["echo", "tracing", request.args.get("target", "").replace("\0", "")])
    return page("Trace", f"<pre>{esc(out)}</pre>")


@R.route("/tools/checksum", "cmdi", vuln=True, param="filename", method="POST",
         form=("filename",), note="POST form")
def tools_checksum() -> str:  # VULNERABLE
    out = shell(f"echo sha256 {request.form.get('filename', '')}")
    return page("Checksum", f"<pre>{esc(out)}</pre>")


@R.route("/tools/digest", "cmdi", vuln=False, param="path", method="POST", form=("path",),
         twin_of="/tools/checksum")
def tools_digest() -> str:  # TWIN
    out = run_args(["echo", "sha256", request.form.get("path", "").replace("\0", "")])
    return page("Digest", f"<pre>{esc(out)}</pre>")


# --- path traversal ---------------------------------------------------------------------------

@R.route("/download", "path-traversal", vuln=True, param="file",
         link="/download?file=readme.txt")
def download() -> Any:  # VULNERABLE: join() with ../ or an absolute path
    try:
        with open(os.path.join(files_root(), request.args.get("file", "")), encoding="utf-8",
                  errors="replace") as f:
            return Response(f.read(4000), mimetype="text/plain")
    except OSError:
        return Response("not found\n", status=404, mimetype="text/plain")


@R.route("/attachment", "path-traversal", vuln=False, param="name",
         link="/attachment?name=readme.txt", twin_of="/download")
def attachment() -> Any:  # TWIN: only plain names in the folder
    name = request.args.get("name", "").replace("\0", "")
    path = os.path.join(files_root(), os.path.basename(name))
    if name != os.path.basename(name) or not os.path.isfile(path):
        return Response("not found\n", status=404, mimetype="text/plain")
    with open(path, encoding="utf-8") as f:
        return Response(f.read(4000), mimetype="text/plain")


@R.route("/static-docs/<path:doc>", "path-traversal", vuln=True, param="doc",
         link="/static-docs/model-card.txt", note="path segment")
def static_docs(doc: str) -> Any:  # VULNERABLE
    try:
        with open(os.path.join(files_root(), doc), encoding="utf-8", errors="replace") as f:
            return Response(f.read(4000), mimetype="text/plain")
    except OSError:
        return Response("not found\n", status=404, mimetype="text/plain")


@R.route("/docs-v2/<path:doc>", "path-traversal", vuln=False, param="doc",
         link="/docs-v2/model-card.txt", twin_of="/static-docs/<path:doc>")
def docs_v2(doc: str) -> Any:  # TWIN: resolved path must stay inside the folder
    base = os.path.realpath(files_root())
    path = os.path.realpath(os.path.join(base, doc.replace("\0", "")))
    if not path.startswith(base + os.sep) or not os.path.isfile(path):
        return Response("not found\n", status=404, mimetype="text/plain")
    with open(path, encoding="utf-8") as f:
        return Response(f.read(4000), mimetype="text/plain")


# --- open redirect ----------------------------------------------------------------------------

def _same_site(t: str) -> str:
    """A local path only: no scheme, no //host, no backslash, no control characters."""
    ok = t.startswith("/") and not t.startswith("//") and "\\" not in t \
        and not any(ord(c) < 32 for c in t)
    return t if ok else "/"


@R.route("/redirect", "open-redirect", vuln=True, param="next", link="/redirect?next=/search")
def redirect_next() -> Any:  # VULNERABLE: any Location
    return redirect(request.args.get("next", "/"))


@R.route("/continue", "open-redirect", vuln=False, param="to", link="/continue?to=/search",
         twin_of="/redirect")
def continue_to() -> Any:  # TWIN
    return redirect(_same_site(request.args.get("to", "/")))


@R.route("/logout", "open-redirect", vuln=True, param="next_url", method="POST",
         form=("next_url",), note="POST form")
def logout() -> Any:  # VULNERABLE
    return redirect(request.form.get("next_url", "/"))


@R.route("/signout", "open-redirect", vuln=False, param="next_page", method="POST",
         form=("next_page",), twin_of="/logout")
def signout() -> Any:  # TWIN
    return redirect(_same_site(request.form.get("next_page", "/")))


# --- ssrf -------------------------------------------------------------------------------------

@R.route("/fetch", "ssrf", vuln=True, param="url", link="/fetch?url=http://127.0.0.1/")
def fetch() -> Any:  # VULNERABLE: fetches what it is given (loopback http only here)
    status, text = fetch_loopback(request.args.get("url", ""))
    return Response(page("Fetched", f"<pre>{esc(text)}</pre>"), status=status)


ALLOWED_IMAGES = {"https://images.example.test/logo.png", "https://images.example.test/hero.png"}


@R.route("/preview-image", "ssrf", vuln=False, param="src",
         link="/preview-image?src=https://images.example.test/logo.png", twin_of="/fetch")
def preview_image() -> Any:  # TWIN: allowlist, nothing fetched
    if request.args.get("src", "") not in ALLOWED_IMAGES:
        return Response(page("Preview", "<p>Image not allowed.</p>"), status=400)
    return page("Preview", "<p>Image OK.</p>")


# --- ssti -------------------------------------------------------------------------------------

@R.route("/hello", "ssti", vuln=True, param="name", also=("xss-reflected",),
         note="raw input in the template source is also reflected XSS")
def hello() -> str:  # VULNERABLE: user input becomes Jinja2 source
    return render_template_string("<!doctype html><title>Hello</title><p>Hello "
                                  + request.args.get("name", "")[:300] + "!</p>")


@R.route("/salute", "ssti", vuln=False, param="person", twin_of="/hello")
def salute() -> str:  # TWIN: a variable
    return render_template_string("<!doctype html><title>Salute</title><p>Hello {{ p }}!</p>",
                                  p=request.args.get("person", "")[:300])


@R.route("/api/v1/render", "ssti", vuln=True, param="title", method="POST",
         body={"title": "Quarterly report"}, note="JSON body")
def api_render() -> Any:  # VULNERABLE
    t = str((request.get_json(silent=True) or {}).get("title", ""))[:300]
    return jsonify(html=render_template_string("<h1>" + t + "</h1>"))


@R.route("/api/v1/format", "ssti", vuln=False, param="heading", method="POST",
         body={"heading": "Quarterly report"}, twin_of="/api/v1/render")
def api_format() -> Any:  # TWIN
    t = str((request.get_json(silent=True) or {}).get("heading", ""))[:300]
    return jsonify(html=render_template_string("<h1>{{ t }}</h1>", t=t))


# --- model endpoints ---------------------------------------------------------------------------

@R.route("/predict", "ml-crash", vuln=True, param="features", method="POST",
         body={"features": [0.2, 1.5, -0.3]})
def predict() -> Any:  # VULNERABLE: no validation: wrong types -> 500
    if (r := _limited()) is not None:
        return r
    data = request.get_json(force=True)
    label, p, _ = classify([float(x) for x in data["features"]])
    return jsonify(label=label, score=p)


def _valid_features(data: Any, key: str, n: int = 64) -> list[float] | None:
    v = data.get(key) if isinstance(data, dict) else None
    if not isinstance(v, list) or not 0 < len(v) <= n or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        return None
    return [float(x) for x in v]


@R.route("/v2/predict", "ml-crash", vuln=False, param="features", method="POST",
         body={"features": [0.2, 1.5, -0.3]}, twin_of="/predict")
def predict_v2() -> Any:  # TWIN: validated, 400 on bad input
    if (r := _limited()) is not None:
        return r
    if (request.content_length or 0) > 65536:
        return jsonify(error="payload too large"), 413
    f = _valid_features(request.get_json(silent=True), "features")
    if f is None:
        return jsonify(error="features must be 1-64 numbers"), 400
    label, p, _ = classify(f)
    return jsonify(label=label, score=p)


def _flatten(x: Any) -> list[Any]:
    return [y for e in x for y in _flatten(e)] if isinstance(x, list) else [x]


@R.route("/batch-predict", "ml-crash", vuln=True, param="rows", method="POST",
         body={"rows": [[0.1, 0.2], [0.3, 0.4]]}, note="deep nesting / oversized")
def batch_predict() -> Any:  # VULNERABLE: unbounded recursion and size
    if (r := _limited()) is not None:
        return r
    rows = request.get_json(force=True)["rows"]
    return jsonify(labels=[classify([float(v) for v in _flatten(row)])[0] for row in rows])


@R.route("/batch-score", "ml-crash", vuln=False, param="rows", method="POST",
         body={"rows": [[0.1, 0.2], [0.3, 0.4]]}, twin_of="/batch-predict")
def batch_score() -> Any:  # TWIN
    if (r := _limited()) is not None:
        return r
    if (request.content_length or 0) > 65536:
        return jsonify(error="payload too large"), 413
    data = request.get_json(silent=True)
    rows = data.get("rows") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not 0 < len(rows) <= 32:
        return jsonify(error="rows must be 1-32 lists"), 400
    fs = [_valid_features({"f": r}, "f") for r in rows]
    if any(f is None for f in fs):
        return jsonify(error="each row must be 1-64 numbers"), 400
    return jsonify(labels=[classify(f)[0] for f in fs if f is not None])


@R.route("/api/v1/generate", "ml-echo", vuln=True, param="prompt", method="POST",
         body={"prompt": "Summarise the report"})
def api_generate() -> Any:  # VULNERABLE: echoes the prompt
    if (r := _limited()) is not None:
        return r
    p = str((request.get_json(silent=True) or {}).get("prompt", ""))[:10000]
    return jsonify(prompt=p, completion="The report is fine.", tokens=len(p.split()))


@R.route("/api/v1/complete", "ml-echo", vuln=False, param="prompt", method="POST",
         body={"prompt": "Summarise the report"}, twin_of="/api/v1/generate")
def api_complete() -> Any:  # TWIN
    if (r := _limited()) is not None:
        return r
    p = str((request.get_json(silent=True) or {}).get("prompt", ""))[:10000]
    return jsonify(completion="The report is fine.", tokens=len(p.split()))


@R.route("/api/v1/predict-proba", "ml-internals", vuln=True, param="features", method="POST",
         body={"features": [0.5, 0.1, 0.7]})
def predict_proba() -> Any:  # VULNERABLE: full vector, model path, library version
    if (r := _limited()) is not None:
        return r
    f = _valid_features(request.get_json(silent=True), "features") or [0.0]
    label, _, probs = classify(f)
    return jsonify(label=label, probabilities=probs, model="/opt/models/credit-v3/model.pkl",
                   framework="scikit-learn 1.4.0")


@R.route("/api/v1/predict-label", "ml-internals", vuln=False, param="features", method="POST",
         body={"features": [0.5, 0.1, 0.7]}, twin_of="/api/v1/predict-proba")
def predict_label() -> Any:  # TWIN
    if (r := _limited()) is not None:
        return r
    f = _valid_features(request.get_json(silent=True), "features") or [0.0]
    label, p, _ = classify(f)
    return jsonify(label=label, score=p)


@R.route("/api/v1/explain", "ml-internals", vuln=True, param="features", method="POST",
         body={"features": [0.5, 0.1, 0.7]}, note="leak in the error response")
def explain() -> Any:  # VULNERABLE: bad input -> error with feature names and model path
    if (r := _limited()) is not None:
        return r
    f = _valid_features(request.get_json(silent=True), "features", n=3)
    if f is None or len(f) != 3:
        return jsonify(error="expected features [income, debt_ratio, age_years] for "
                             "/opt/models/credit-v3/model.pkl (xgboost 2.0.3)"), 400
    weights = (0.7, -1.2, 0.1)
    return jsonify(contributions=[round(x * w, 3) for x, w in zip(f, weights, strict=True)])


@R.route("/api/v1/importance", "ml-internals", vuln=False, param="features", method="POST",
         body={"features": [0.5, 0.1, 0.7]}, twin_of="/api/v1/explain")
def importance() -> Any:  # TWIN: generic error
    if (r := _limited()) is not None:
        return r
    f = _valid_features(request.get_json(silent=True), "features", n=3)
    if f is None or len(f) != 3:
        return jsonify(error="expected 3 numbers"), 400
    weights = (0.7, -1.2, 0.1)
    return jsonify(contributions=[round(x * w, 3) for x, w in zip(f, weights, strict=True)])


@R.route("/api/v1/infer", "rate-limit", vuln=True, param="features", method="POST",
         body={"features": [0.5, 0.1]})
def infer() -> Any:  # VULNERABLE: no rate limit
    f = _valid_features(request.get_json(silent=True), "features")
    if f is None:
        return jsonify(error="features must be 1-64 numbers"), 400
    return jsonify(label=classify(f)[0])


@R.route("/api/v1/detect", "rate-limit", vuln=False, param="features", method="POST",
         body={"features": [0.5, 0.1]}, twin_of="/api/v1/infer")
def detect() -> Any:  # TWIN: 20/s then 429 + Retry-After
    if (r := _limited()) is not None:
        return r
    f = _valid_features(request.get_json(silent=True), "features")
    if f is None:
        return jsonify(error="features must be 1-64 numbers"), 400
    return jsonify(label=classify(f)[0])


# --- page-level kinds ------------------------------------------------------------------------

@R.route("/about", "missing-header", vuln=True,
         page={"drop": ["X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy"]},
         note="no nosniff, no anti-clickjacking", also=("csp",))
def about() -> str:  # VULNERABLE (CSP also gone: labelled csp below via also)
    return page("About", "<p>We serve models.</p>")


@R.route("/contact", "missing-header", vuln=False, twin_of="/about")
def contact() -> str:  # TWIN
    return page("Contact", "<p>Write to ops@example.test.</p>")


@R.route("/team", "missing-header", vuln=True, page={"drop": ["Permissions-Policy"]},
         note="no Permissions-Policy")
def team() -> str:  # VULNERABLE
    return page("Team", "<p>Six engineers.</p>")


@R.route("/partners", "missing-header", vuln=False, twin_of="/team",
         page={"drop": ["X-Frame-Options"]},
         note="anti-clickjacking via CSP frame-ancestors only")
def partners() -> str:  # TWIN: no X-Frame-Options, but CSP frame-ancestors 'none'
    return page("Partners", "<p>Cloud vendors.</p>")


@R.route("/dashboard", "csp", vuln=True, note="unsafe-inline in script-src",
         page={"set": {"Content-Security-Policy":
                       "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"}})
def dashboard() -> str:  # VULNERABLE
    return page("Dashboard", "<p>3 models serving.</p>")


@R.route("/status", "csp", vuln=False, twin_of="/dashboard")
def status() -> str:  # TWIN
    return page("Status", "<p>All systems normal.</p>")


@R.route("/help", "csp", vuln=True, note="no CSP at all",
         page={"drop": ["Content-Security-Policy"]})
def help_page() -> str:  # VULNERABLE: X-Frame-Options still there
    return page("Help", "<p>Read the docs.</p>")


@R.route("/playground", "csp", vuln=True, note="unsafe-eval",
         page={"set": {"Content-Security-Policy":
                       "default-src 'self'; script-src 'self' 'unsafe-eval'; "
                       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"}})
def playground() -> str:  # VULNERABLE
    return page("Playground", "<p>Try a model.</p>")


@R.route("/session/start", "cookie-flags", vuln=True,
         page={"set": {"Set-Cookie": "sessionid=5c1d77e0a9b34f21; Path=/"}})
def session_start() -> str:  # VULNERABLE: no HttpOnly, no SameSite
    return page("Session", "<p>Session started.</p>")


@R.route("/session/begin", "cookie-flags", vuln=False, twin_of="/session/start",
         page={"set": {"Set-Cookie":
                       "sessionid=0e8b2f4a6c1d3e59; Path=/; HttpOnly; SameSite=Lax"}})
def session_begin() -> str:  # TWIN
    return page("Session", "<p>Session started.</p>")


@R.route("/report", "stack-trace", vuln=True, param="year", link="/report?year=2026")
def report() -> Any:  # VULNERABLE: traceback in the page
    try:
        y = int(request.args.get("year", ""))
        return page("Report", f"<p>Report for {y}.</p>")
    except Exception:
        return Response(page("Error", f"<pre>{esc(traceback.format_exc())}</pre>"), status=500)


@R.route("/summary", "stack-trace", vuln=False, param="year", link="/summary?year=2026",
         twin_of="/report")
def summary() -> Any:  # TWIN
    y = request.args.get("year", "")
    if not y.isdigit():
        return Response(page("Error", "<p>Year must be a number.</p>"), status=400)
    return page("Summary", f"<p>Summary for {y}.</p>")


@R.route("/legal", "version-banner", vuln=True,
         page={"set": {"Server": "Apache/2.4.41 (Ubuntu)", "X-Powered-By": "PHP/7.4.3"}})
def legal() -> str:  # VULNERABLE
    return page("Legal", "<p>Imprint.</p>")


@R.route("/terms", "version-banner", vuln=False, twin_of="/legal")
def terms() -> str:  # TWIN: Server without a version (baseline)
    return page("Terms", "<p>Be nice.</p>")


@R.route("/status/backend", "private-ip", vuln=True, note="private address in the body")
def status_backend() -> str:  # VULNERABLE
    return page("Backend", "<p>Upstream: 10.0.3.17:8080 (healthy)</p>")


@R.route("/status/frontend", "private-ip", vuln=False, twin_of="/status/backend")
def status_frontend() -> str:  # TWIN
    return page("Frontend", "<p>Upstream: model-backend (healthy), version 10.0.3</p>")


_DBPW = "s3cr" + "et-" + "bench" + "-pw"


@R.route("/.env", "debug-endpoint", vuln=True, link="")
def dot_env() -> Any:  # VULNERABLE: environment file served
    return Response(f"DATABASE_URL=postgres://app:{_DBPW}@10.0.0.5/app\nDEBUG=true\n"
                    f"MODEL_DIR=/opt/models\n", mimetype="text/plain")


@R.route("/actuator/env", "debug-endpoint", vuln=True, link="")
def actuator_env() -> Any:  # VULNERABLE: Spring-style environment dump
    return jsonify(activeProfiles=["prod"], propertySources=[
        {"name": "systemEnvironment", "properties": {"JAVA_HOME": {"value": "/usr/lib/jvm"},
                                                      "DB_PASSWORD": {"value": _DBPW}}}])


@R.route("/actuator/health", "debug-endpoint", vuln=False, link="", twin_of="/actuator/env")
def actuator_health() -> Any:  # TWIN: a health check reveals nothing
    return jsonify(status="UP")


R.label_only("/phpinfo.php", "debug-endpoint", vuln=False,
             note="hard negative: answered by the soft-404 catch-all")
R.label_only("/console", "debug-endpoint", vuln=False,
             note="hard negative: answered by the soft-404 catch-all")


@R.route("/files/", "directory-listing", vuln=True, note="Apache-style autoindex")
def files() -> str:  # VULNERABLE
    rows = "".join(f"<tr><td><a href=\"{n}\">{n}</a></td><td>2026-12-01 09:14</td>"
                   f"<td>{s}</td></tr>" for n, s in [("backup.sql", "1.2M"),
                                                    ("model.pkl", "88M"), ("notes.txt", "3K")])
    return (f"<!DOCTYPE HTML><html><head><title>Index of /files</title></head><body>"
            f"<h1>Index of /files</h1><table><tr><th>Name</th><th>Last modified</th>"
            f"<th>Size</th></tr><tr><td><a href=\"/\">Parent Directory</a></td></tr>{rows}"
            f"</table></body></html>")


@R.route("/downloads/", "directory-listing", vuln=False, twin_of="/files/")
def downloads() -> str:  # TWIN: a hand-written downloads page
    return page("Downloads", "<ul><li><a href='/download?file=readme.txt'>Read me</a></li></ul>")


def _cors(resp: Response, origin: str, allowed: bool) -> Response:
    if allowed:
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers["Access-Control-Allow-Credentials"] = "true"
        resp.headers["Vary"] = "Origin"
    return resp


@R.route("/api/me", "cors", vuln=True, note="reflected Origin with credentials")
def api_me() -> Any:  # VULNERABLE
    origin = request.headers.get("Origin", "")
    return _cors(jsonify(user="bob", email="bob@example.test"), origin,
                 bool(origin) and origin != "null")


@R.route("/api/account", "cors", vuln=False, twin_of="/api/me")
def api_account() -> Any:  # TWIN: allowlist
    origin = request.headers.get("Origin", "")
    return _cors(jsonify(user="bob"), origin, origin == "https://app.example.test")


@R.route("/api/public-stats", "cors", vuln=False,
         note="hard negative: public data, * without credentials",
         page={"set": {"Access-Control-Allow-Origin": "*"}})
def api_public_stats() -> Any:  # HARD NEGATIVE
    return jsonify(models=3, requests_today=1204)


@R.route("/account", "cache-sensitive", vuln=True, page={"drop": ["Cache-Control"],
         "set": {"Set-Cookie": "acct=bob; Path=/; HttpOnly; SameSite=Lax"}},
         note="PII and a cookie without no-store")
def account() -> str:  # VULNERABLE
    return page("Account", "<p>bob@example.test, +1 555 0100, card ending 4242</p>")


@R.route("/account/settings", "cache-sensitive", vuln=False, twin_of="/account",
         page={"set": {"Set-Cookie": "acct=bob; Path=/; HttpOnly; SameSite=Lax"}})
def account_settings() -> str:  # TWIN: no-store (baseline)
    return page("Settings", "<p>bob@example.test, +1 555 0100, card ending 4242</p>")


@R.route("/widgets", "mixed-content", vuln=True, note="http:// script")
def widgets() -> str:  # VULNERABLE
    return page("Widgets", "<script src='http://cdn.example.test/widgets.js'></script>")


@R.route("/gallery", "mixed-content", vuln=False, twin_of="/widgets")
def gallery() -> str:  # TWIN
    return page("Gallery", "<script src='https://cdn.example.test/gallery.js'></script>")


# --- hard negatives ----------------------------------------------------------------------------

@R.route("/api/echo", "xss-reflected", vuln=False, param="q",
         note="hard negative: reflected in JSON")
def api_echo() -> Any:
    return Response(json.dumps({"q": request.args.get("q", "")}), mimetype="application/json")


@R.route("/plain", "xss-reflected", vuln=False, param="msg",
         note="hard negative: reflected in text/plain")
def plain() -> Any:
    return Response(request.args.get("msg", "") + "\n", mimetype="text/plain")


@R.route("/preview", "ssti", vuln=False, param="tpl",
         note="hard negative: template syntax echoed, not evaluated")
def preview() -> str:
    return page("Preview", f"<code>{esc(request.args.get('tpl', ''))}</code>")


@R.route("/admin/query", "sqli", vuln=False, param="q", auth=True,
         note="hard negative: behind 401 (no credentials given to scanners)")
def admin_query() -> Any:
    if request.authorization is None or request.authorization.password != "not-for-scanners":
        return Response("authentication required", status=401,
                        headers={"WWW-Authenticate": 'Basic realm="admin"'})
    rows = db().execute(f"SELECT name FROM users WHERE name = '{request.args.get('q')}'"
                        ).fetchall()
    return page("Admin", esc(str(rows)))
