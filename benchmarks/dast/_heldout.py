"""The HELD-OUT part of the DAST benchmark app: written before the main part and before any
scanner output was seen; never changed to suit a scanner. Its route and parameter names, page
shapes and the variant of each kind differ from the main part (XSS in a single-quoted attribute
and in a textarea, SQLi in ORDER BY / LIKE / a nested JSON key / a numeric path segment,
traversal below a prefix folder, SSTI in a header-derived value, redirect via meta refresh and
a ``//host`` bypass, blind cmdi, TF-serving style model routes …).

Each route says its kind and whether it is the vulnerable one or the safe twin.
"""

# ruff: noqa: S608, RUF059  (deliberately vulnerable benchmark code)

from __future__ import annotations

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

R = Registry("heldout")


def _limited() -> Response | None:
    if not LIMITER.allow(request.path):
        return Response("slow down", status=429, headers={"Retry-After": "1"})
    return None


# --- xss-reflected --------------------------------------------------------------------------

@R.route("/catalogue", "xss-reflected", vuln=True, param="colour",
         note="single-quoted attribute; only <>&\" escaped")
def catalogue() -> str:  # VULNERABLE: a ' breaks out of the attribute
    c = request.args.get("colour", "").replace("&", "&amp;").replace("<", "&lt;") \
        .replace(">", "&gt;").replace('"', "&quot;")
    return page("Catalogue", f"<div class='swatch' data-colour='{c}'>Colour: {c}</div>")


@R.route("/collections", "xss-reflected", vuln=False, param="shade", twin_of="/catalogue")
def collections() -> str:  # TWIN: full attribute escaping
    c = esc(request.args.get("shade", ""))
    return page("Collections", f"<div class='swatch' data-shade='{c}'>Shade: {c}</div>")


@R.route("/feedback/draft", "xss-reflected", vuln=True, param="draft", method="POST",
         form=("draft",), note="inside <textarea>, POST form")
def feedback_draft() -> str:  # VULNERABLE: </textarea> closes the RCDATA element
    d = request.form.get("draft", "")
    return page("Your draft", f"<form method='post'><textarea name='draft'>{d}</textarea>"
                              f"<button>Save</button></form>")


@R.route("/support/draft", "xss-reflected", vuln=False, param="text", method="POST",
         form=("text",), twin_of="/feedback/draft")
def support_draft() -> str:  # TWIN: escaped
    d = esc(request.form.get("text", ""))
    return page("Your message", f"<form method='post'><textarea name='text'>{d}</textarea>"
                                f"<button>Send</button></form>")


# --- xss-stored (submitted through a JSON API, shown on an HTML page) -------------------------

@R.route("/api/notes", "xss-stored", vuln=True, param="note", method="POST",
         body={"note": "remember the milk"}, alt=("/notes",))
def api_notes() -> Any:  # VULNERABLE: shown raw on /notes
    data = request.get_json(silent=True) or {}
    STORE.add("notes", str(data.get("note", "")))
    return jsonify(saved=True)


@R.plain("/notes")
def notes() -> str:
    return page("Notes", "<ul>" + "".join(f"<li>{n}</li>" for n in STORE.get("notes")) + "</ul>")


@R.route("/api/memos", "xss-stored", vuln=False, param="memo", method="POST",
         body={"memo": "standup at ten"}, twin_of="/api/notes", alt=("/memos",))
def api_memos() -> Any:  # TWIN: escaped on /memos
    data = request.get_json(silent=True) or {}
    STORE.add("memos", str(data.get("memo", "")))
    return jsonify(saved=True)


@R.plain("/memos")
def memos() -> str:
    return page("Memos", "<ul>" + "".join(f"<li>{esc(n)}</li>" for n in STORE.get("memos"))
                + "</ul>")


# --- sqli -------------------------------------------------------------------------------------

@R.route("/leaderboard", "sqli", vuln=True, param="sort", note="ORDER BY, error text shown")
def leaderboard() -> str:  # VULNERABLE: column name pasted into ORDER BY
    sort = request.args.get("sort", "score")
    try:
        rows = db().execute(f"SELECT name, score FROM users ORDER BY {sort} DESC").fetchall()
    except Exception as e:
        return page("Leaderboard", f"<p>could not sort: {esc(str(e))}</p>")
    return page("Leaderboard", "<ol>" + "".join(f"<li>{esc(n)} {s}</li>" for n, s in rows)
                + "</ol>")


@R.route("/rankings", "sqli", vuln=False, param="order", twin_of="/leaderboard")
def rankings() -> str:  # TWIN: column from an allowlist
    col = {"score": "score", "name": "name"}.get(request.args.get("order", ""), "score")
    rows = db().execute(f"SELECT name, score FROM users ORDER BY {col} DESC").fetchall()
    return page("Rankings", "<ol>" + "".join(f"<li>{esc(n)} {s}</li>" for n, s in rows)
                + "</ol>")


@R.route("/staff/directory", "sqli", vuln=True, param="team", note="LIKE clause, blind")
def staff_directory() -> str:  # VULNERABLE: LIKE pattern built by formatting
    team = request.args.get("team", "")
    try:
        rows = db().execute(
            f"SELECT name, team FROM users WHERE team LIKE '%{team}%'").fetchall()
    except Exception:
        rows = []
    return page("Staff", "<ul>" + "".join(f"<li>{esc(n)} ({esc(t)})</li>" for n, t in rows)
                + "</ul>")


@R.route("/people", "sqli", vuln=False, param="dept", twin_of="/staff/directory")
def people() -> str:  # TWIN: bound parameter
    dept = request.args.get("dept", "")
    rows = db().execute("SELECT name, team FROM users WHERE team LIKE ?",
                        (f"%{dept}%",)).fetchall()
    return page("People", "<ul>" + "".join(f"<li>{esc(n)} ({esc(t)})</li>" for n, t in rows)
                + "</ul>")


@R.route("/api/inventory/query", "sqli", vuln=True, param="filter.sku", method="POST",
         body={"filter": {"sku": "A-100"}}, note="nested JSON key")
def inventory_query() -> Any:  # VULNERABLE: nested JSON value pasted into SQL
    data = request.get_json(silent=True) or {}
    sku = str((data.get("filter") or {}).get("sku", ""))
    try:
        n = db().execute(f"SELECT count(*) FROM items WHERE sku = '{sku}'").fetchone()[0]
    except Exception:
        n = 0
    return jsonify(matches=n)


@R.route("/api/stock/query", "sqli", vuln=False, param="where.sku", method="POST",
         body={"where": {"sku": "A-100"}}, twin_of="/api/inventory/query")
def stock_query() -> Any:  # TWIN: bound parameter
    data = request.get_json(silent=True) or {}
    sku = str((data.get("where") or {}).get("sku", ""))
    n = db().execute("SELECT count(*) FROM items WHERE sku = ?", (sku,)).fetchone()[0]
    return jsonify(matches=n)


@R.route("/orders/<order_id>", "sqli", vuln=True, param="order_id", link="/orders/2",
         note="numeric path segment")
def order(order_id: str) -> Any:  # VULNERABLE: path segment pasted as a number
    try:
        row = db().execute(f"SELECT sku, title, price FROM items WHERE id = {order_id}").fetchone()
    except Exception:
        return Response(page("Error", "<p>Something went wrong.</p>"), status=500)
    if not row:
        return Response(page("Order", "<p>No such order.</p>"), status=404)
    return page("Order", f"<p>{esc(row[0])}: {esc(row[1])} at {row[2]}</p>")


@R.route("/invoices/<invoice_id>", "sqli", vuln=False, param="invoice_id", link="/invoices/2",
         twin_of="/orders/<order_id>")
def invoice(invoice_id: str) -> Any:  # TWIN: bound parameter
    row = db().execute("SELECT sku, title, price FROM items WHERE id = ?",
                       (invoice_id,)).fetchone()
    if not row:
        return Response(page("Invoice", "<p>No such invoice.</p>"), status=404)
    return page("Invoice", f"<p>{esc(row[0])}: {esc(row[1])} at {row[2]}</p>")


# --- cmdi -------------------------------------------------------------------------------------

@R.route("/maintenance/dns", "cmdi", vuln=True, param="domain", method="POST",
         form=("domain",), note="blind: output not shown")
def maintenance_dns() -> str:  # VULNERABLE: shell, output discarded
    shell(f"echo lookup {request.form.get('domain', '')} > /dev/null")
    return page("DNS check", "<p>Lookup queued.</p>")


@R.route("/maintenance/whois", "cmdi", vuln=False, param="hostname", method="POST",
         form=("hostname",), twin_of="/maintenance/dns")
def maintenance_whois() -> str:  # TWIN: argument vector
    run_args(["echo", "whois", request.form.get("hostname", "")])
    return page("Whois", "<p>Lookup queued.</p>")


@R.route("/api/jobs/convert", "cmdi", vuln=True, param="format", method="POST",
         body={"format": "png"}, note="JSON body, output shown")
def jobs_convert() -> Any:  # VULNERABLE
    data = request.get_json(silent=True) or {}
    return jsonify(log=shell(f"echo converting to {data.get('format', '')}"))


@R.route("/api/jobs/resize", "cmdi", vuln=False, param="size", method="POST",
         body={"size": "256x256"}, twin_of="/api/jobs/convert")
def jobs_resize() -> Any:  # TWIN
    data = request.get_json(silent=True) or {}
    return jsonify(log=run_args(["echo", "resizing to", str(data.get("size", ""))]))


# --- path traversal (below a prefix folder) ---------------------------------------------------

@R.route("/handbook", "path-traversal", vuln=True, param="chapter", note="prefix directory")
def handbook() -> Any:  # VULNERABLE: ../../.. climbs out of handbook/
    path = os.path.join(files_root(), "handbook", request.args.get("chapter", "intro.txt"))
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return page("Handbook", f"<pre>{esc(f.read(4000))}</pre>")
    except OSError:
        return Response(page("Handbook", "<p>No such chapter.</p>"), status=404)


@R.route("/manual", "path-traversal", vuln=False, param="section", twin_of="/handbook")
def manual() -> Any:  # TWIN: resolved path must stay inside manual/
    base = os.path.realpath(os.path.join(files_root(), "manual"))
    path = os.path.realpath(os.path.join(base, request.args.get("section", "intro.txt")))
    if not path.startswith(base + os.sep) or not os.path.isfile(path):
        return Response(page("Manual", "<p>No such section.</p>"), status=404)
    with open(path, encoding="utf-8") as f:
        return page("Manual", f"<pre>{esc(f.read(4000))}</pre>")


# --- open redirect ----------------------------------------------------------------------------

@R.route("/out", "open-redirect", vuln=True, param="dest", note="meta refresh")
def out() -> str:  # VULNERABLE: any destination, via meta refresh
    d = esc(request.args.get("dest", "/"))
    return page("Leaving", f"<meta http-equiv='refresh' content='0;url={d}'>"
                           f"<p>Redirecting to {d}</p>")


@R.route("/leave", "open-redirect", vuln=False, param="target", twin_of="/out")
def leave() -> str:  # TWIN: same-site paths only
    t = request.args.get("target", "/")
    if not t.startswith("/") or t.startswith("//") or "\\" in t:
        t = "/"
    return page("Leaving", f"<meta http-equiv='refresh' content='0;url={esc(t)}'>")


@R.route("/sso/callback", "open-redirect", vuln=True, param="return_to",
         note="startswith('/') check, //host bypass")
def sso_callback() -> Any:  # VULNERABLE: "//evil.example" passes the check
    t = request.args.get("return_to", "/")
    return redirect(t if t.startswith("/") else "/")


@R.route("/auth/done", "open-redirect", vuln=False, param="back", twin_of="/sso/callback")
def auth_done() -> Any:  # TWIN
    t = request.args.get("back", "/")
    ok = t.startswith("/") and not t.startswith("//") and "\\" not in t
    return redirect(t if ok else "/")


# --- ssrf -------------------------------------------------------------------------------------

@R.route("/api/webhooks/test", "ssrf", vuln=True, param="callback_url", method="POST",
         body={"callback_url": "http://127.0.0.1/"})
def webhooks_test() -> Any:  # VULNERABLE: fetches the given URL (loopback only here)
    data = request.get_json(silent=True) or {}
    status, text = fetch_loopback(str(data.get("callback_url", "")))
    return jsonify(status=status, preview=text[:200]), (200 if status == 200 else 400)


ALLOWED_HOOKS = {"https://hooks.example.test/ci", "https://hooks.example.test/deploy"}


@R.route("/api/hooks/verify", "ssrf", vuln=False, param="endpoint", method="POST",
         body={"endpoint": "https://hooks.example.test/ci"}, twin_of="/api/webhooks/test")
def hooks_verify() -> Any:  # TWIN: only registered endpoints, never fetched here
    data = request.get_json(silent=True) or {}
    if str(data.get("endpoint", "")) not in ALLOWED_HOOKS:
        return jsonify(error="endpoint not registered"), 400
    return jsonify(status="registered")


# --- ssti -------------------------------------------------------------------------------------

@R.route("/browser-check", "ssti", vuln=True, param="User-Agent",
         note="header-derived value (User-Agent)")
def browser_check() -> str:  # VULNERABLE: the User-Agent becomes template source
    ua = request.headers.get("User-Agent", "")[:300]
    return render_template_string("<!doctype html><title>Browser</title><p>Your browser: "
                                  + ua + "</p><p><a href='/'>home</a></p>")


@R.route("/client-info", "ssti", vuln=False, param="User-Agent", twin_of="/browser-check")
def client_info() -> str:  # TWIN: passed as a variable
    return render_template_string("<!doctype html><title>Client</title><p>Client: {{ ua }}</p>",
                                  ua=request.headers.get("User-Agent", "")[:300])


@R.route("/cards/preview", "ssti", vuln=True, param="greeting", method="POST",
         form=("greeting",), note="POST form")
def cards_preview() -> str:  # VULNERABLE
    g = request.form.get("greeting", "")[:500]
    return render_template_string("<!doctype html><title>Card</title><div class=card>" + g
                                  + "</div>")


@R.route("/cards/render", "ssti", vuln=False, param="message", method="POST",
         form=("message",), twin_of="/cards/preview")
def cards_render() -> str:  # TWIN
    return render_template_string("<!doctype html><title>Card</title><div class=card>{{ m }}"
                                  "</div>", m=request.form.get("message", "")[:500])


# --- model endpoints ---------------------------------------------------------------------------

@R.route("/v1/models/sentiment:predict", "ml-crash", vuln=True, param="instances",
         method="POST", body={"instances": [[0.1, 0.4, 0.2]]})
def sentiment_predict() -> Any:  # VULNERABLE: no validation, malformed input -> 500
    if (r := _limited()) is not None:
        return r
    data = request.get_json(force=True)
    preds = [classify([float(x) for x in row])[0] for row in data["instances"]]
    return jsonify(predictions=preds)


@R.route("/v1/models/toxicity:predict", "ml-crash", vuln=False, param="instances",
         method="POST", body={"instances": [[0.1, 0.4, 0.2]]},
         twin_of="/v1/models/sentiment:predict")
def toxicity_predict() -> Any:  # TWIN: validated, bounded, 400 on bad input
    if (r := _limited()) is not None:
        return r
    if (request.content_length or 0) > 65536:
        return jsonify(error="payload too large"), 413
    data = request.get_json(silent=True)
    rows = data.get("instances") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not 0 < len(rows) <= 32 or not all(
            isinstance(r, list) and 0 < len(r) <= 64
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in r)
            for r in rows):
        return jsonify(error="instances must be 1-32 lists of 1-64 numbers"), 400
    return jsonify(predictions=[classify([float(x) for x in row])[0] for row in rows])


def _text_features(text: str) -> list[float]:
    return [len(text) / 100, text.count(" ") / 10, sum(c.isupper() for c in text) / 10]


@R.route("/classify", "ml-echo", vuln=True, param="text", method="POST",
         body={"text": "great product"})
def classify_text() -> Any:  # VULNERABLE: echoes the raw input
    if (r := _limited()) is not None:
        return r
    data = request.get_json(silent=True) or {}
    text = str(data.get("text", ""))[:10000]
    return jsonify(label=classify(_text_features(text))[0], text=text)


@R.route("/categorize", "ml-echo", vuln=False, param="text", method="POST",
         body={"text": "great product"}, twin_of="/classify")
def categorize() -> Any:  # TWIN: label and length only
    if (r := _limited()) is not None:
        return r
    data = request.get_json(silent=True) or {}
    text = str(data.get("text", ""))[:10000]
    return jsonify(label=classify(_text_features(text))[0], chars=len(text))


@R.route("/score", "ml-internals", vuln=True, param="values", method="POST",
         body={"values": [0.3, 0.2, 0.9]})
def score() -> Any:  # VULNERABLE: full probability vector, feature names, weights, model path
    if (r := _limited()) is not None:
        return r
    data = request.get_json(silent=True) or {}
    vals = [float(x) for x in data.get("values", []) if isinstance(x, (int, float))][:64]
    label, p, probs = classify(vals)
    return jsonify(label=label, probabilities=probs,
                   debug={"feature_names": ["tenure_months", "monthly_spend", "support_calls"],
                          "weights": [0.41, -1.73, 0.88], "bias": -0.12,
                          "model_file": "/srv/models/churn-v7/model.joblib",
                          "sklearn_version": "1.3.2"})


@R.route("/rate", "ml-internals", vuln=False, param="values", method="POST",
         body={"values": [0.3, 0.2, 0.9]}, twin_of="/score")
def rate() -> Any:  # TWIN: the label and its score only
    if (r := _limited()) is not None:
        return r
    data = request.get_json(silent=True) or {}
    vals = [float(x) for x in data.get("values", []) if isinstance(x, (int, float))][:64]
    label, p, _ = classify(vals)
    return jsonify(label=label, score=p)


@R.route("/embed", "rate-limit", vuln=True, param="sentence", method="POST",
         body={"sentence": "hello world"})
def embed() -> Any:  # VULNERABLE: no rate limit at all
    data = request.get_json(silent=True) or {}
    s = str(data.get("sentence", ""))[:2000]
    return jsonify(vector=[round(len(s) / 50, 3), round(s.count("e") / 10, 3), 0.5])


@R.route("/rerank", "rate-limit", vuln=False, param="query", method="POST",
         body={"query": "hello", "docs": ["a", "b"]}, twin_of="/embed")
def rerank() -> Any:  # TWIN: 20 requests per second, then 429 + Retry-After
    if (r := _limited()) is not None:
        return r
    data = request.get_json(silent=True) or {}
    docs = [str(d) for d in data.get("docs", [])][:50] if isinstance(data, dict) else []
    return jsonify(order=sorted(range(len(docs)), key=lambda i: len(docs[i])))


# --- page-level kinds (controlled by the route's page policy) ----------------------------------

@R.route("/pricing", "missing-header", vuln=True,
         page={"drop": ["X-Content-Type-Options", "Referrer-Policy"]})
def pricing() -> str:  # VULNERABLE: no nosniff, no Referrer-Policy
    return page("Pricing", "<table><tr><td>Starter</td><td>$0</td></tr>"
                           "<tr><td>Team</td><td>$49</td></tr></table>")


@R.route("/faq", "missing-header", vuln=False, twin_of="/pricing")
def faq() -> str:  # TWIN: baseline headers
    return page("FAQ", "<dl><dt>Is there a free tier?</dt><dd>Yes.</dd></dl>")


@R.route("/blog", "csp", vuln=True, note="wildcard script-src",
         page={"set": {"Content-Security-Policy":
                       "default-src 'self'; script-src *; object-src 'none'; base-uri 'none'; "
                       "frame-ancestors 'none'"}})
def blog() -> str:  # VULNERABLE: script-src *
    return page("Blog", "<article><h2>Shipping v2</h2><p>Faster inference.</p></article>")


@R.route("/news", "csp", vuln=False, twin_of="/blog")
def news() -> str:  # TWIN: strict baseline CSP
    return page("News", "<article><h2>Quarterly update</h2><p>All green.</p></article>")


@R.route("/careers", "csp", vuln=True, note="report-only policy only",
         page={"drop": ["Content-Security-Policy"],
               "set": {"Content-Security-Policy-Report-Only": "default-src 'self'"}})
def careers() -> str:  # VULNERABLE: CSP only in report-only mode
    return page("Careers", "<p>We are hiring ML engineers.</p>")


@R.route("/welcome-back", "cookie-flags", vuln=True,
         page={"set": {"Set-Cookie": "session_token=" + "7f3c9a1e" + "5b2d4f60; Path=/"}})
def welcome_back() -> str:  # VULNERABLE: session cookie without HttpOnly / SameSite
    return page("Welcome back", "<p>You are signed in.</p>")


@R.route("/greetings", "cookie-flags", vuln=False, twin_of="/welcome-back",
         page={"set": {"Set-Cookie":
                       "session_token=" + "2a8e6c0d" + "9f1b3e57; Path=/; HttpOnly; "
                       "SameSite=Strict"}})
def greetings() -> str:  # TWIN
    return page("Hello again", "<p>You are signed in.</p>")


EXPORTS = {"csv": "text/csv", "json": "application/json"}


@R.route("/api/export", "stack-trace", vuln=True, param="fmt", link="/api/export?fmt=csv")
def api_export() -> Any:  # VULNERABLE: traceback in the JSON error
    try:
        return jsonify(format=request.args.get("fmt", ""),
                       mime=EXPORTS[request.args.get("fmt", "")])
    except Exception:
        return jsonify(error="export failed", trace=traceback.format_exc()), 500


@R.route("/api/download", "stack-trace", vuln=False, param="type", twin_of="/api/export",
         link="/api/download?type=csv")
def api_download() -> Any:  # TWIN
    t = request.args.get("type", "")
    if t not in EXPORTS:
        return jsonify(error="unknown type"), 400
    return jsonify(format=t, mime=EXPORTS[t])


@R.route("/home-legacy", "version-banner", vuln=True, note="generator meta with a version")
def home_legacy() -> str:  # VULNERABLE
    return ("<!doctype html><html><head><meta name='generator' content='WordPress 5.8.1'>"
            "<title>Legacy</title></head><body><p>Old home page.</p></body></html>")


@R.route("/landing", "version-banner", vuln=False, twin_of="/home-legacy")
def landing() -> str:  # TWIN: generator without a version
    return ("<!doctype html><html><head><meta name='generator' content='static-site'>"
            "<title>Landing</title></head><body><p>New home page.</p></body></html>")


@R.route("/ping", "private-ip", vuln=True, note="private address in a header",
         page={"set": {"X-Backend-Server": "192.168.10.25"}})
def ping() -> Any:  # VULNERABLE
    return Response("pong\n", mimetype="text/plain")


@R.route("/healthz", "private-ip", vuln=False, twin_of="/ping",
         page={"set": {"X-Backend-Server": "node-a"}})
def healthz() -> Any:  # TWIN
    return Response("ok\n", mimetype="text/plain")


@R.route("/server-status", "debug-endpoint", vuln=True, link="")
def server_status() -> str:  # VULNERABLE: Apache mod_status look-alike
    return ("<!DOCTYPE HTML><html><head><title>Apache Status</title></head><body>"
            "<h1>Apache Server Status for 127.0.0.1</h1><dl><dt>Server uptime: 3 days</dt>"
            "<dt>Total accesses: 48210</dt><dt>CPU Usage: u2.1 s.7</dt></dl>"
            "<pre>W_____........</pre><table><tr><th>Srv</th><th>Client</th><th>Request"
            "</th></tr><tr><td>0-0</td><td>10.1.4.7</td><td>GET /admin HTTP/1.1</td></tr>"
            "</table></body></html>")


@R.route("/.git/config", "debug-endpoint", vuln=True, link="")
def git_config() -> Any:  # VULNERABLE: exposed repository metadata
    return Response("[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
                    "[remote \"origin\"]\n\turl = git@git.internal.example:ml/serving.git\n"
                    "\tfetch = +refs/heads/*:refs/remotes/origin/*\n", mimetype="text/plain")


R.label_only("/.svn/entries", "debug-endpoint", vuln=False,
             note="hard negative: answered by the soft-404 catch-all")


@R.route("/exports/", "directory-listing", vuln=True, note="nginx-style autoindex")
def exports() -> str:  # VULNERABLE
    rows = "".join(f"<a href=\"{n}\">{n}</a>{' ' * (40 - len(n))}04-Dec-2026 10:12    {s}\n"
                   for n, s in [("../", "-"), ("churn-2026-11.csv", "48213"),
                                ("users-full.json", "913442"), ("model-v7.joblib", "2210391")])
    return (f"<html><head><title>Index of /exports/</title></head><body>"
            f"<h1>Index of /exports/</h1><hr><pre>{rows}</pre><hr></body></html>")


@R.route("/reports/", "directory-listing", vuln=False, twin_of="/exports/")
def reports() -> str:  # TWIN: a curated page, not a listing
    return page("Reports", "<p>Monthly reports are sent by email. Ask your admin.</p>")


def _cors(resp: Response, origin: str, allowed: bool) -> Response:
    if allowed:
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers["Access-Control-Allow-Credentials"] = "true"
        resp.headers["Vary"] = "Origin"
    return resp


@R.route("/api/profile", "cors", vuln=True, note="any Origin, also null, with credentials")
def api_profile() -> Any:  # VULNERABLE: reflects whatever Origin arrives
    origin = request.headers.get("Origin", "")
    return _cors(jsonify(user="alice", plan="team"), origin, bool(origin))


@R.route("/api/preferences", "cors", vuln=False, twin_of="/api/profile")
def api_preferences() -> Any:  # TWIN: allowlisted origin only
    origin = request.headers.get("Origin", "")
    return _cors(jsonify(theme="dark"), origin, origin == "https://app.example.test")


@R.route("/api/catalogue", "cors", vuln=False, note="hard negative: public data, * without "
         "credentials", page={"set": {"Access-Control-Allow-Origin": "*"}})
def api_catalogue() -> Any:  # HARD NEGATIVE
    return jsonify(models=["sentiment", "toxicity"])


_TOKEN = "tok_" + "live_" + "9d2f" + "61ab" + "77c3" + "e0a4"


@R.route("/api/tokens", "cache-sensitive", vuln=True,
         page={"set": {"Cache-Control": "public, max-age=600"}})
def api_tokens() -> Any:  # VULNERABLE: credential in a publicly cacheable response
    return jsonify(tokens=[{"name": "ci", "token": _TOKEN}], owner="alice@example.test")


@R.route("/api/keys", "cache-sensitive", vuln=False, twin_of="/api/tokens")
def api_keys() -> Any:  # TWIN: no-store (baseline)
    return jsonify(keys=[{"name": "ci", "token": _TOKEN}], owner="alice@example.test")


@R.route("/newsletter", "mixed-content", vuln=True, note="form posts to http://")
def newsletter() -> str:  # VULNERABLE
    return page("Newsletter", "<form method='post' action='http://mail.example.test/join'>"
                              "<input name='email'><button>Join</button></form>")


@R.route("/subscribe", "mixed-content", vuln=False, twin_of="/newsletter")
def subscribe() -> str:  # TWIN
    return page("Subscribe", "<form method='post' action='https://mail.example.test/join'>"
                             "<input name='email'><button>Join</button></form>")


# --- hard negatives ----------------------------------------------------------------------------

@R.route("/api/suggest", "xss-reflected", vuln=False, param="term",
         note="hard negative: reflected in JSON")
def api_suggest() -> Any:
    t = request.args.get("term", "")
    return Response(json.dumps({"term": t, "suggestions": [t + "s"]}),
                    mimetype="application/json")


@R.route("/echo.txt", "xss-reflected", vuln=False, param="line",
         note="hard negative: reflected in text/plain")
def echo_txt() -> Any:
    return Response("You sent: " + request.args.get("line", "") + "\n", mimetype="text/plain")


@R.route("/snippets", "ssti", vuln=False, param="body",
         note="hard negative: template syntax echoed, not evaluated")
def snippets() -> str:
    return page("Snippet", f"<pre>{esc(request.args.get('body', ''))}</pre>")


@R.route("/internal/reports", "sqli", vuln=False, param="q", auth=True,
         note="hard negative: behind 401 (no credentials given to scanners)")
def internal_reports() -> Any:
    if request.authorization is None or request.authorization.password != "not-for-scanners":
        return Response("authentication required", status=401,
                        headers={"WWW-Authenticate": 'Basic realm="reports"'})
    q = request.args.get("q", "")
    rows = db().execute(f"SELECT what FROM audit WHERE what = '{q}'").fetchall()
    return page("Reports", esc(str(rows)))
