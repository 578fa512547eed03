"""Test apps for the injection probes (xss, sqli, cmdi, traversal, ssti): one real Flask app,
served on a free loopback port, with each vulnerable route next to its safe twin and the hard
negatives (JSON / text reflections, echoed template syntax, SQL prose, latency jitter).

Also the few helpers the probe tests share: input points, a context on a real client."""

from __future__ import annotations

import contextlib
import html
import json
import os
import random
import re
import secrets
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, render_template_string, request
from werkzeug.serving import make_server

from secpipe.scanners.web.http import Client, ClientSettings, origin_of
from secpipe.scanners.web.model import Exchange, InputKind, InputPoint, Request, Site
from secpipe.scanners.web.probes import ProbeContext


def _page(body: str) -> Response:
    return Response(f"<!doctype html><html><head><title>t</title></head><body>{body}</body>"
                    "</html>", content_type="text/html; charset=utf-8")


def _js_escape_markup(value: str) -> str:
    """Escapes only < > & (the 'HTML-escaped into a JS string' mistake)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def make_app(root: Path) -> Flask:
    """The app; ``root`` holds its SQLite database and its files."""
    app = Flask("h6")
    db_path = root / "app.db"
    files = root / "files"
    (files / "static").mkdir(parents=True, exist_ok=True)
    (files / "report.txt").write_text("quarterly report\n")
    (files / "static" / "style.css").write_text("body{}\n")
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price INTEGER)")
        conn.executemany("INSERT INTO items (name, price) VALUES (?, ?)",
                         [("apple", 3), ("banana", 2), ("cherry", 7), ("date", 5)])
    stored: dict[str, list[str]] = {"guestbook": [], "notes": []}
    app.config["hits"] = {"login": 0}

    def query(sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with sqlite3.connect(db_path) as conn:
            return list(conn.execute(sql, args).fetchall())

    def rows_html(rows: list[tuple[Any, ...]]) -> str:
        return "<ul>" + "".join(f"<li>{html.escape(str(r[0]))}</li>" for r in rows) + "</ul>"

    # --- XSS ------------------------------------------------------------------------------
    @app.get("/xss/html")
    def xss_html() -> Response:
        return _page(f"<p>Hello {request.args.get('q', '')}</p>")

    @app.get("/xss/lang")
    def xss_lang() -> Response:  # shown only when it starts with a known language code
        value = request.args.get("lang", "")
        if not value.startswith("en"):
            return _page("<p>unknown language</p>")
        return _page(f"<p>Language: {value}</p>")

    @app.get("/xss/html-safe")
    def xss_html_safe() -> Response:
        return _page(f"<p>Hello {html.escape(request.args.get('q', ''))}</p>")

    @app.get("/xss/attr")
    def xss_attr() -> Response:
        return _page(f'<input name="q" value="{request.args.get("q", "")}">')

    @app.get("/xss/attr-safe")
    def xss_attr_safe() -> Response:
        return _page(f'<input name="q" value="{html.escape(request.args.get("q", ""))}">')

    @app.get("/xss/attr-single")
    def xss_attr_single() -> Response:  # escapes <>&" but not '
        value = html.escape(request.args.get("q", ""), quote=False).replace('"', "&quot;")
        return _page(f"<input name='q' value='{value}'>")

    @app.get("/xss/attr-unquoted")
    def xss_attr_unquoted() -> Response:
        value = html.escape(request.args.get("q", ""), quote=False)
        return _page(f"<input name=q value={value}>")

    @app.get("/xss/js")
    def xss_js() -> Response:  # only <>& escaped inside a JS string
        return _page(f"<script>var s = '{_js_escape_markup(request.args.get('q', ''))}';"
                     "</script>")

    @app.get("/xss/js-safe")
    def xss_js_safe() -> Response:  # JSON-encoded and markup-escaped, as Flask's tojson
        value = json.dumps(request.args.get("q", "")).replace("<", "\\u003c") \
            .replace(">", "\\u003e").replace("&", "\\u0026").replace("'", "\\u0027")
        return _page(f"<script>var s = {value};</script>")

    @app.get("/xss/js-backslash")
    def xss_js_backslash() -> Response:  # escapes ' as \' but not the backslash
        value = _js_escape_markup(request.args.get("q", "")).replace("'", "\\'")
        return _page(f"<script>var s = '{value}';</script>")

    @app.get("/xss/js-template")
    def xss_js_template() -> Response:
        value = _js_escape_markup(request.args.get("q", "")).replace("`", "\\`")
        return _page(f"<script>var s = `{value}`;</script>")

    @app.get("/xss/json-script")
    def xss_json_script() -> Response:  # quotes unescaped, but a data block is not JavaScript
        value = _js_escape_markup(request.args.get("q", ""))
        return _page(f'<script type="application/json">{{"q": "{value}"}}</script>')

    @app.get("/xss/onclick")
    def xss_onclick() -> Response:  # HTML-escaped, but the handler decodes &#x27; back to '
        return _page(f'<button onclick="go(\'{html.escape(request.args.get("q", ""))}\')">'
                     "go</button>")

    @app.get("/xss/title")
    def xss_title() -> Response:
        return Response(f"<html><head><title>{request.args.get('q', '')}</title></head>"
                        "<body>x</body></html>", content_type="text/html")

    @app.get("/xss/href")
    def xss_href() -> Response:
        return _page(f'<a href="{html.escape(request.args.get("q", ""))}">next</a>')

    @app.get("/xss/href-filter")
    def xss_href_filter() -> Response:  # strips "javascript:" only
        value = re.sub("javascript:", "", request.args.get("q", ""), flags=re.IGNORECASE)
        return _page(f'<a href="{html.escape(value)}">next</a>')

    @app.get("/xss/href-safe")
    def xss_href_safe() -> Response:
        value = request.args.get("q", "")
        if not re.match(r"^(https?://|/)", value):
            value = "#"
        return _page(f'<a href="{html.escape(value)}">next</a>')

    @app.get("/xss/textarea")
    def xss_textarea() -> Response:
        return _page(f"<textarea>{request.args.get('q', '')}</textarea>")

    @app.get("/xss/textarea-safe")
    def xss_textarea_safe() -> Response:  # markup inside a textarea is text, not elements
        value = request.args.get("q", "").replace("</", "&lt;/")
        return _page(f"<textarea>{value}</textarea>")

    @app.get("/xss/comment")
    def xss_comment() -> Response:
        return _page(f"<!-- search: {request.args.get('q', '')} --><p>ok</p>")

    @app.get("/xss/json")
    def xss_json() -> Response:
        return Response(json.dumps({"echo": request.args.get("q", "")}),
                        content_type="application/json")

    @app.get("/xss/raw-json")
    def xss_raw_json() -> Response:  # not even JSON-escaped, but still not HTML
        return Response('{"echo": "' + request.args.get("q", "") + '"}',
                        content_type="application/json")

    @app.get("/xss/text")
    def xss_text() -> Response:
        return Response(f"you said <{request.args.get('q', '')}>", content_type="text/plain")

    @app.post("/xss/form")
    def xss_form() -> Response:
        return _page(f"<p>Thanks {request.form.get('name', '')} from "
                     f"{html.escape(request.form.get('city', ''))}</p>")

    @app.post("/guestbook")
    def guestbook_post() -> Response:
        stored["guestbook"].append(f"{request.form.get('name', '')}: "
                                   f"{request.form.get('message', '')}")
        return Response("", status=303, headers={"Location": "/guestbook"})

    @app.get("/guestbook")
    def guestbook() -> Response:
        return _page("".join(f"<div class='entry'>{e}</div>" for e in stored["guestbook"]))

    @app.post("/notes")
    def notes_post() -> Response:
        body = request.get_json(silent=True) or {}
        stored["notes"].append(str(body.get("text", "")))
        return Response(json.dumps({"ok": True}), content_type="application/json")

    @app.get("/notes")
    def notes() -> Response:
        return _page("".join(f"<p>{html.escape(n)}</p>" for n in stored["notes"]))

    @app.post("/api/comments")
    def comments_post() -> Response:  # a JSON create endpoint whose page shows it raw
        body = request.get_json(silent=True) or {}
        stored.setdefault("comments", []).append(str(body.get("body", "")))
        return Response(json.dumps({"id": len(stored["comments"])}), status=201,
                        content_type="application/json")

    @app.get("/comments")
    def comments() -> Response:
        return _page("".join(f"<li>{c}</li>" for c in stored.get("comments", [])))

    @app.post("/login")
    def login() -> Response:
        app.config["hits"]["login"] += 1
        return _page("<p>bad credentials</p>")

    # --- SQL injection ------------------------------------------------------------------
    @app.get("/sqli/error")
    def sqli_error() -> Response:
        name = request.args.get("name", "")
        try:
            rows = query(f"SELECT name FROM items WHERE name = '{name}'")  # noqa: S608
        except sqlite3.Error as exc:
            return _page(f"<pre>sqlite3.{type(exc).__name__}: {html.escape(str(exc))}</pre>")
        return _page(rows_html(rows))

    @app.get("/sqli/error-safe")
    def sqli_error_safe() -> Response:  # always shows SQL error prose
        rows = query("SELECT name FROM items WHERE name = ?", (request.args.get("name", ""),))
        return _page("<p>Tutorial: 'You have an error in your SQL syntax' means a typo; "
                     "sqlite3.OperationalError: unrecognized token is similar.</p>"
                     + rows_html(rows))

    @app.get("/sqli/bool")
    def sqli_bool() -> Response:
        try:
            rows = query(f"SELECT name FROM items WHERE id = {request.args.get('id', '')}")  # noqa: S608
        except sqlite3.Error:
            rows = []
        return _page(rows_html(rows) if rows else "<p>no such item</p>")

    @app.get("/sqli/bool-dynamic")
    def sqli_bool_dynamic() -> Response:  # a fresh CSRF token and clock on every page
        try:
            rows = query(f"SELECT name FROM items WHERE id = {request.args.get('id', '')}")  # noqa: S608
        except sqlite3.Error:
            rows = []
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S") + f".{time.time_ns() % 10**6:06d}Z"
        return _page(f'<input type="hidden" name="csrf" value="{secrets.token_urlsafe(24)}">'
                     f"<p>rendered {stamp}</p>"
                     + (rows_html(rows) if rows else "<p>no such item</p>"))

    @app.post("/sqli/login")
    def sqli_login() -> Response:  # the classic login bypass: ' OR 1=1--
        try:
            rows = query("SELECT id FROM items WHERE name = "  # noqa: S608
                         f"'{request.form.get('user', '')}' AND price = "
                         f"'{request.form.get('pin', '')}'")
        except sqlite3.Error:
            rows = []
        return _page("<p>Welcome!</p>" if rows else "<p>Invalid credentials.</p>")

    @app.post("/sqli/login-safe")
    def sqli_login_safe() -> Response:
        rows = query("SELECT id FROM items WHERE name = ? AND price = ?",
                     (request.form.get("user", ""), request.form.get("pin", "")))
        return _page("<p>Welcome!</p>" if rows else "<p>Invalid credentials.</p>")

    @app.post("/sqli/price/update")
    def sqli_update() -> Response:  # a write: records every value it was sent
        app.config["hits"].setdefault("update", []).append(request.form.get("name", ""))
        return _page("<p>saved</p>")

    @app.get("/sqli/dq")
    def sqli_dq() -> Response:  # double-quoted string literal (SQLite accepts it), errors hidden
        try:
            rows = query(f'SELECT name FROM items WHERE (name = "{request.args.get("n", "")}")')  # noqa: S608
        except sqlite3.Error:
            rows = []
        return _page(rows_html(rows) if rows else "<p>nothing</p>")

    @app.get("/parse")
    def parse_value() -> Response:  # a quote breaks a JSON/Python parse, not SQL
        value = request.args.get("v", "")
        try:
            json.loads(f'"{value}"')
            compile(f"'{value}'", "<value>", "eval")
        except (ValueError, SyntaxError) as exc:
            return _page(f"<pre>{type(exc).__name__}: {html.escape(str(exc))}</pre>")
        return _page("<p>ok</p>")

    @app.get("/sqli/bool-safe")
    def sqli_bool_safe() -> Response:
        try:
            rows = query("SELECT name FROM items WHERE id = ?", (int(request.args["id"]),))
        except (KeyError, ValueError):
            rows = []
        return _page(rows_html(rows) if rows else "<p>no such item</p>")

    @app.get("/sqli/like")
    def sqli_like() -> Response:
        term = request.args.get("q", "")
        try:
            rows = query(f"SELECT name FROM items WHERE name LIKE '%{term}%'")  # noqa: S608
        except sqlite3.Error:
            rows = []
        return _page(f"<h1>Results for {html.escape(term)}</h1>" + rows_html(rows))

    @app.get("/sqli/like-safe")
    def sqli_like_safe() -> Response:
        term = request.args.get("q", "")
        rows = query("SELECT name FROM items WHERE name LIKE ?", (f"%{term}%",))
        return _page(f"<h1>Results for {html.escape(term)}</h1>" + rows_html(rows))

    @app.get("/sqli/time")
    def sqli_time() -> Response:  # blind: the answer never depends on the query
        with contextlib.suppress(sqlite3.Error):
            query(f"SELECT name FROM items WHERE name = '{request.args.get('name', '')}'")  # noqa: S608
        return _page("<p>thanks</p>")

    @app.get("/sqli/time-safe")
    def sqli_time_safe() -> Response:
        query("SELECT name FROM items WHERE name = ?", (request.args.get("name", ""),))
        return _page("<p>thanks</p>")

    @app.get("/sqli/jitter")
    def sqli_jitter() -> Response:
        time.sleep(random.uniform(0.0, 0.4))
        query("SELECT name FROM items WHERE name = ?", (request.args.get("name", ""),))
        return _page("<p>thanks</p>")

    @app.get("/sqli/order")
    def sqli_order() -> Response:
        try:
            rows = query(f"SELECT name FROM items ORDER BY {request.args.get('sort', 'name')}")  # noqa: S608
        except sqlite3.Error as exc:
            return _page(f"<pre>sqlite3.OperationalError: {html.escape(str(exc))}</pre>")
        return _page(rows_html(rows))

    @app.get("/sqli/order-safe")
    def sqli_order_safe() -> Response:
        sort = request.args.get("sort", "name")
        if sort not in ("name", "price"):
            return _page("<p>unknown sort column</p>")
        return _page(rows_html(query(f"SELECT name FROM items ORDER BY {sort}")))  # noqa: S608

    @app.get("/sqli/item/<name>")
    def sqli_path(name: str) -> Response:
        try:
            rows = query(f"SELECT name, price FROM items WHERE name = '{name}'")  # noqa: S608
        except sqlite3.Error as exc:
            return Response(f"sqlite3.OperationalError: {exc}", status=500,
                            content_type="text/plain")
        return _page(rows_html(rows))

    @app.get("/sqli/item-safe/<name>")
    def sqli_path_safe(name: str) -> Response:
        return _page(rows_html(query("SELECT name FROM items WHERE name = ?", (name,))))

    @app.post("/api/search")
    def sqli_json() -> Response:
        body = request.get_json(silent=True) or {}
        try:
            rows = query(f"SELECT name FROM items WHERE name = '{body.get('name', '')}'")  # noqa: S608
        except sqlite3.Error as exc:
            return Response(json.dumps({"error": f"sqlite3.OperationalError: {exc}"}),
                            status=500, content_type="application/json")
        return Response(json.dumps({"items": [r[0] for r in rows]}),
                        content_type="application/json")

    @app.post("/api/search-safe")
    def sqli_json_safe() -> Response:
        body = request.get_json(silent=True) or {}
        rows = query("SELECT name FROM items WHERE name = ?", (str(body.get("name", "")),))
        return Response(json.dumps({"items": [r[0] for r in rows]}),
                        content_type="application/json")

    # --- command injection ----------------------------------------------------------------
    def shell(command: str) -> str:
        done = subprocess.run(command, shell=True, capture_output=True, text=True,  # noqa: S602
                              timeout=10, check=False)
        return done.stdout

    @app.get("/cmdi/ping")
    def cmdi_ping() -> Response:
        return _page(f"<pre>{html.escape(shell('echo pinging ' + request.args.get('host', '')))}"
                     "</pre>")

    @app.get("/cmdi/ping-safe")
    def cmdi_ping_safe() -> Response:
        done = subprocess.run(["echo", "pinging", request.args.get("host", "")],
                              capture_output=True, text=True, timeout=10, check=False)
        return _page(f"<pre>{html.escape(done.stdout)}</pre>")

    @app.get("/cmdi/quoted")
    def cmdi_quoted() -> Response:
        out = shell("echo 'Hello " + request.args.get("name", "") + "'")
        return _page(f"<pre>{html.escape(out)}</pre>")

    @app.get("/cmdi/blind")
    def cmdi_blind() -> Response:
        shell("true " + request.args.get("host", ""))
        return _page("<p>queued</p>")

    @app.get("/cmdi/blind-safe")
    def cmdi_blind_safe() -> Response:
        subprocess.run(["true", request.args.get("host", "")], check=False, timeout=10)
        return _page("<p>queued</p>")

    # --- path traversal -------------------------------------------------------------------
    @app.get("/file")
    def file_read() -> Response:  # os.path.join with an absolute or ../ value escapes
        try:
            data = Path(os.path.join(files, request.args.get("name", ""))).read_text()
        except OSError:
            abort(404)
        return Response(data, content_type="text/plain")

    @app.get("/download/<path:name>")
    def download(name: str) -> Response:  # a path segment joined unchecked
        try:
            data = Path(os.path.join(files, name)).read_text()
        except OSError:
            abort(404)
        return Response(data, content_type="text/plain")

    @app.get("/download-safe/<path:name>")
    def download_safe(name: str) -> Response:
        target = (files / name).resolve()
        if not target.is_relative_to(files.resolve()) or not target.is_file():
            abort(404)
        return Response(target.read_text(), content_type="text/plain")

    @app.get("/file-safe")
    def file_safe() -> Response:
        target = (files / request.args.get("name", "")).resolve()
        if not target.is_relative_to(files.resolve()) or not target.is_file():
            abort(404)
        return Response(target.read_text(), content_type="text/plain")

    @app.get("/file-strip")
    def file_strip() -> Response:  # strips ../ once: ....// survives
        name = request.args.get("name", "").replace("../", "").lstrip("/")
        try:
            data = (files / name).read_text()
        except OSError:
            abort(404)
        return Response(data, content_type="text/plain")

    @app.get("/asset")
    def asset() -> Response:  # checks the prefix only
        path = request.args.get("path", "")
        if not path.startswith("static/"):
            abort(403)
        try:
            data = (files / path).read_text()
        except OSError:
            abort(404)
        return Response(data, content_type="text/plain")

    @app.get("/docs/passwd")
    def docs_passwd() -> Response:  # documentation that always shows a passwd line
        return _page("<pre>root:x:0:0:root:/root:/bin/bash</pre><p>page "
                     f"{html.escape(request.args.get('page', ''))}</p>")

    # --- template injection ---------------------------------------------------------------
    @app.get("/ssti")
    def ssti() -> str:
        return render_template_string("<p>Hello " + request.args.get("name", "") + "</p>")

    @app.get("/ssti-safe")
    def ssti_safe() -> str:
        return render_template_string("<p>Hello {{ name }}</p>", name=request.args.get("name", ""))

    @app.get("/ssti-dollar")
    def ssti_dollar() -> Response:  # a ${a*b} engine (Freemarker-like arithmetic)
        text = re.sub(r"\$\{(\d+)\*(\d+)\}", lambda m: str(int(m[1]) * int(m[2])),
                      request.args.get("name", ""))
        return _page(f"<p>Hi {html.escape(text)}</p>")

    @app.post("/api/render")
    def ssti_json() -> Response:
        body = request.get_json(silent=True) or {}
        out = render_template_string("Dear " + str(body.get("greeting", "")))
        return Response(json.dumps({"text": out}), content_type="application/json")

    @app.get("/calc")
    def calc() -> Response:  # shows numbers of its own: must not be taken for evaluation
        return _page(f"<p>{html.escape(request.args.get('x', ''))}</p><p>"
                     f"{random.randint(10**6, 10**8)}</p>")

    return app


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free loopback port; yields its base URL, stops it at the end."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def query_point(base: str, path: str, name: str, value: str, *,
                method: str = "GET") -> InputPoint:
    return InputPoint(InputKind.QUERY, method, base + path, name, params=((name, value),))


def form_point(base: str, path: str, name: str, params: dict[str, str]) -> InputPoint:
    return InputPoint(InputKind.FORM, "POST", base + path, name, params=tuple(params.items()),
                      source="form")


def json_point(base: str, path: str, name: str, body: dict[str, Any]) -> InputPoint:
    return InputPoint(InputKind.JSON, "POST", base + path, name, json_body=json.dumps(body))


def path_point(base: str, path: str, index: int) -> InputPoint:
    return InputPoint(InputKind.PATH, "GET", base + path, str(index))


def context(base: str, *, pages: tuple[str, ...] = (), points: tuple[InputPoint, ...] = (),
            time_based: bool = True) -> ProbeContext:
    """A probe context on a real client scoped to ``base`` (pages fetched for the site)."""
    client = Client(ClientSettings(origins=(origin_of(base),), timeout=15.0))
    site = Site(base_url=base + "/", origins=(origin_of(base),), points=list(points))
    for page in pages:
        request = Request("GET", base + page)
        site.pages.append(Exchange(request, client.send(request)))
    site.not_found = client.send(Request("GET", base + "/no-such-page-h6"))
    return ProbeContext(client=client, site=site, time_based=time_based)
