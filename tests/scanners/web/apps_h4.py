"""Small real web apps for the crawler, client, step and CLI tests of ``scan-web`` (helper H4).

Each app is served by werkzeug on 127.0.0.1 and a free port in a thread (:func:`serve`), and
records the paths it was asked for, so tests can assert what the scanner did and did not fetch.
Raw socket servers stand in for targets a web framework cannot be: one that accepts and never
answers, one that streams 50 MB, one that sends a gzip bomb.
"""

from __future__ import annotations

import functools
import gzip
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, redirect, render_template_string, request
from werkzeug.serving import make_server

logging.getLogger("werkzeug").setLevel(logging.ERROR)


@dataclass
class Served:
    url: str
    hits: list[str] = field(default_factory=list)
    """``METHOD /path?query`` of every request, in order."""
    headers: list[dict[str, str]] = field(default_factory=list)

    def paths(self) -> set[str]:
        return {h.split(" ", 1)[1].split("?", 1)[0] for h in self.hits}


@contextmanager
def serve(app: Flask) -> Iterator[Served]:
    """``app`` on 127.0.0.1:<free port> until the block ends (the server thread is stopped)."""
    served = Served("")

    @app.before_request
    def _record() -> None:
        query = request.query_string.decode()
        served.hits.append(f"{request.method} {request.path}" + (f"?{query}" if query else ""))
        served.headers.append(dict(request.headers))

    server = make_server("127.0.0.1", 0, app, threaded=True)
    served.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1"},
    "paths": {
        "/api/items/{item_id}": {
            "get": {"parameters": [
                {"name": "item_id", "in": "path", "required": True,
                 "schema": {"type": "integer", "example": 7}},
                {"name": "fields", "in": "query", "schema": {"type": "string",
                                                             "enum": ["name", "all"]}}]},
            "delete": {"parameters": []},
        },
        "/api/predict": {
            "post": {"requestBody": {"content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Predict"}}}}},
        },
    },
    "components": {"schemas": {
        "Predict": {"type": "object", "properties": {
            "features": {"type": "object", "properties": {
                "age": {"type": "integer"}, "email": {"type": "string", "format": "email"}}},
            "tags": {"type": "array", "items": {"type": "string", "default": "a"}},
            "node": {"$ref": "#/components/schemas/Node"}}},
        "Node": {"type": "object", "properties": {
            "label": {"type": "string"}, "child": {"$ref": "#/components/schemas/Node"}}},
    }},
}


def site_app(other: str) -> Flask:
    """A multi-page app: links, forms, a JSON API with /openapi.json, an id route, robots and
    sitemap entries, a 401 route, a logout link, and links and a redirect to ``other`` (another
    origin: out of scope)."""
    app = Flask("site")

    @app.get("/")
    def index() -> str:
        return f"""<!doctype html><html><head><title>Home</title>
<link rel="stylesheet" href="/static/site.css"></head><body>
<a href="/about">About</a> <a href="/search?q=hello&amp;page=1">Search</a>
<a href="/items/42">Item</a> <a href="/users/alice">Alice</a>
<a href="{other}/outside?x=1">Elsewhere</a> <a href="/go-out">Go out</a>
<a href="/report?year=2026">Report</a> <a href="/private">Private</a>
<a href="/logout">Log out</a> <a href="/moved">Moved</a> <a href="/browser">Browser</a>
<a href="mailto:a@example.com">mail</a> <a href="javascript:void(0)">js</a>
<form action="/search" method="get"><input name="q" value=""><input type="submit"></form>
<form action="/contact" method="post"><input name="name"><input type="email" name="email">
<select name="topic"><option value="sales">S</option><option value="x">X</option></select>
<textarea name="message"></textarea><input type="hidden" name="csrf" value="tok123">
<button type="submit">Send</button></form>
<script>fetch('/api/status').then(r => r.json());</script>
</body></html>"""

    @app.get("/about")
    def about() -> str:
        return "<html><body><a href='/'>home</a><a href='/about/team'>team</a></body></html>"

    @app.get("/about/team")
    def team() -> str:
        return "<html><body>team</body></html>"

    @app.get("/search")
    def search() -> str:
        return f"<html><body>results for {len(request.args.get('q', ''))} chars</body></html>"

    @app.post("/contact")
    def contact() -> str:
        return "<html><body>thanks</body></html>"

    @app.get("/items/<int:item>")
    def item(item: int) -> str:
        return f"<html><body>item {item}</body></html>"

    @app.get("/users/<name>")
    def user(name: str) -> str:
        return "<html><body>user</body></html>"

    @app.get("/report")
    def report() -> Any:
        try:
            return f"<html><body>report {int(request.args.get('year', ''))}</body></html>"
        except ValueError:
            import traceback

            return Response("<pre>" + traceback.format_exc() + "</pre>", 500,
                            mimetype="text/html")

    @app.get("/browser")
    def browser() -> str:  # VULNERABLE: the User-Agent header is rendered as a template
        agent = request.headers.get("User-Agent", "")
        return render_template_string("<html><body>Your browser: " + agent + "</body></html>")

    @app.get("/go-out")
    def go_out() -> Any:
        return redirect(f"{other}/landing", 302)

    @app.get("/moved")
    def moved() -> Any:
        return redirect("/about/team", 301)

    @app.get("/private")
    def private() -> Any:
        return Response("login required", 401, {"WWW-Authenticate": "Basic"})

    @app.get("/logout")
    def logout() -> str:
        return "bye"

    @app.get("/robots.txt")
    def robots() -> Any:
        return Response("User-agent: *\nDisallow: /hidden-admin\nDisallow: /*.bak$\n"
                        "Sitemap: /sitemap.xml\n", mimetype="text/plain")

    @app.get("/sitemap.xml")
    def sitemap() -> Any:
        base = request.host_url.rstrip("/")
        body = (f"<?xml version='1.0'?><urlset><url><loc>{base}/from-sitemap</loc></url>"
                f"<url><loc>{other}/sitemap-outside</loc></url></urlset>")
        return Response(body, mimetype="application/xml")

    @app.get("/hidden-admin")
    def hidden() -> str:
        return "<html><body>admin</body></html>"

    @app.get("/from-sitemap")
    def from_sitemap() -> str:
        return "<html><body>listed</body></html>"

    @app.get("/openapi.json")
    def spec() -> Any:
        return jsonify(OPENAPI)

    @app.get("/api/status")
    def status() -> Any:
        return jsonify(ok=True)

    @app.get("/api/items/<int:item_id>")
    def api_item(item_id: int) -> Any:
        return jsonify(id=item_id)

    @app.post("/api/predict")
    def predict() -> Any:
        return jsonify(label="a")

    return app


def other_app() -> Flask:
    """The out-of-scope origin: it only records hits."""
    app = Flask("other")

    @app.route("/<path:anything>")
    def anything(anything: str) -> str:
        return "other"

    return app


def echo_headers_app() -> Flask:
    """Echoes the request's headers into the page (as a debug page might): the scanner's own
    secrets must still be redacted in everything it writes. /secret needs the token."""
    app = Flask("echo")
    expected: dict[str, str] = {}

    @app.get("/")
    def index() -> str:
        dump = "".join(f"<li>{k}: {v}</li>" for k, v in request.headers.items())
        return f"<html><body><ul>{dump}</ul><a href='/secret?id=1'>s</a></body></html>"

    @app.get("/secret")
    def secret() -> Any:
        if request.headers.get("Authorization") != expected.get("auth"):
            return Response("no", 401)
        return f"<html><body>welcome {request.headers.get('Authorization')}</body></html>"

    app.config["EXPECTED"] = expected
    return app


def login_app(password: str) -> Flask:
    """A login form; the session cookie opens /dashboard, /logout ends the session."""
    app = Flask("login")
    sessions: set[str] = set()

    def logged_in() -> bool:
        return request.cookies.get("sid", "") in sessions

    @app.get("/")
    def index() -> str:
        return ("<html><body><form action='/login' method='post'><input name='user'>"
                "<input type='password' name='password'></form>"
                "<a href='/dashboard'>dash</a></body></html>")

    @app.post("/login")
    def do_login() -> Any:
        if request.form.get("user") == "alice" and request.form.get("password") == password:
            sid = "s" + str(len(sessions) + 1000)
            sessions.add(sid)
            response = redirect("/dashboard", 302)
            response.set_cookie("sid", sid, httponly=True)
            return response
        return Response("bad login", 403)

    @app.get("/dashboard")
    def dashboard() -> Any:
        if not logged_in():
            return Response("login first", 401)
        return ("<html><body><a href='/account?tab=profile'>account</a>"
                "<a href='/logout'>Log out</a></body></html>")

    @app.get("/account")
    def account() -> Any:
        if not logged_in():
            return Response("login first", 401)
        return "<html><body>account</body></html>"

    @app.get("/logout")
    def logout() -> Any:
        sessions.discard(request.cookies.get("sid", ""))
        return redirect("/", 302)

    return app


# --- raw socket targets ----------------------------------------------------------------------
class RawServer:
    """A TCP server on 127.0.0.1:<free port> answering every connection with ``handler``."""

    def __init__(self, handler: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.handler = handler
        self.stop = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> RawServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            self.handler(conn, data, self.stop)
        except OSError:
            pass
        finally:
            conn.close()


def hang(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    """Never answer (until the server stops)."""
    stop.wait(30)


def fifty_megabytes(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    """An HTML page of 50 MB."""
    size = 50 << 20
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
                 + str(size).encode() + b"\r\nConnection: close\r\n\r\n<html><body>")
    block = b"A" * 65536
    sent = 12
    while sent < size and not stop.is_set():
        conn.sendall(block)
        sent += len(block)


def slow_drip(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    """Headers at once, then a byte every 0.2 s for ever."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n")
    while not stop.wait(0.2):
        conn.sendall(b"x")


@functools.cache
def _bomb() -> bytes:
    return gzip.compress(b"\0" * (200 << 20), compresslevel=6)


def gzip_bomb(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    """200 MB of zeros, gzip-compressed (about 200 KB on the wire)."""
    bomb = _bomb()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
                 b"Content-Length: " + str(len(bomb)).encode() +
                 b"\r\nConnection: close\r\n\r\n" + bomb)


def free_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port
