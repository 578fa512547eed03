"""The DAST benchmark app: a deliberately vulnerable model-serving web app (Flask, SQLite) in
which every vulnerable route has a safe twin, plus hard negatives.

    python benchmarks/dast/app.py --port N [--part main|heldout|all] [--token T]
    python benchmarks/dast/app.py --write-labels benchmarks/dast/labels.json

It binds 127.0.0.1 only (it runs shell commands and fetches URLs it is given). Pages are
reachable by crawling ``/`` (links and forms) and the JSON endpoints from ``/openapi.json``.
The number of requests received is served at ``/__bench/requests-<token>`` (the token is
printed at start, or given with ``--token``; that path is not counted and not linked).
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _heldout
import _main
from _common import BASELINE, Registry, Route, esc, page
from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.serving import WSGIRequestHandler

PARTS: dict[str, Registry] = {"main": _main.R, "heldout": _heldout.R}
HERE = Path(__file__).resolve().parent


def all_labels() -> list[dict[str, Any]]:
    return [lab for name in ("heldout", "main") for lab in PARTS[name].labels()]


def default_link(r: Route) -> str:
    if r.link is not None:
        return r.link
    if r.method != "GET" or r.body is not None:
        return ""
    if r.param and r.param[0].islower() and "<" not in r.path:
        return f"{r.path}?{r.param}=hello"
    return "" if "<" in r.path else r.path


def _schema(v: Any) -> dict[str, Any]:
    if isinstance(v, dict):
        return {"type": "object", "properties": {k: _schema(x) for k, x in v.items()}}
    if isinstance(v, list):
        return {"type": "array", "items": _schema(v[0]) if v else {}}
    if isinstance(v, bool):
        return {"type": "boolean"}
    if isinstance(v, (int, float)):
        return {"type": "number"}
    return {"type": "string"}


def openapi(routes: list[Route]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for r in routes:
        if r.body is not None:
            paths.setdefault(r.path, {})["post"] = {
                "summary": r.view.__name__.replace("_", " ") if r.view else "",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": _schema(r.body), "example": r.body}}},
                "responses": {"200": {"description": "OK"}}}
        elif r.method == "GET" and r.path.startswith("/api/") and r.param:
            paths.setdefault(r.path, {})["get"] = {
                "parameters": [{"name": r.param, "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "OK"}}}
    return {"openapi": "3.0.3", "info": {"title": "model serving API", "version": "1"},
            "paths": paths}


class _JSON(DefaultJSONProvider):
    """Too deeply nested JSON is a parse error (400), not a RecursionError (500) in every
    route: only the routes labelled ml-crash are meant to crash, and they do so on types."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return json.loads(s, **kwargs)
        except RecursionError as e:
            raise ValueError("JSON nested too deeply") from e


def create_app(part: str = "all", token: str | None = None) -> tuple[Flask, str]:
    token = token or secrets.token_hex(12)
    secret_path = f"/__bench/requests-{token}"
    names = ["heldout", "main"] if part == "all" else [part]
    routes = [r for n in names for r in PARTS[n].routes]
    plain = [p for n in names for p in PARTS[n].plain_routes]
    app = Flask("dast-bench")
    app.config["MAX_CONTENT_LENGTH"] = 8 * 1024 * 1024
    app.json = _JSON(app)
    policy: dict[str, dict[str, Any]] = {}
    for i, r in enumerate(routes):
        assert r.view is not None
        app.add_url_rule(r.path, endpoint=f"r{i}_{r.view.__name__}", view_func=r.view,
                         methods=[r.method])
        policy[r.path] = r.page
    for i, (path, fn) in enumerate(plain):
        app.add_url_rule(path, endpoint=f"p{i}_{fn.__name__}", view_func=fn, methods=["GET"])

    lock = threading.Lock()
    count = [0]

    @app.before_request
    def _count() -> Any:
        if request.path == secret_path:
            with lock:
                return Response(json.dumps({"requests": count[0]}), mimetype="application/json")
        with lock:
            count[0] += 1
        return None

    @app.after_request
    def _headers(resp: Response) -> Response:
        rule = request.url_rule.rule if request.url_rule is not None else ""
        for k, v in BASELINE.items():
            if k not in resp.headers:
                resp.headers[k] = v
        pol = policy.get(rule, {})
        for k in pol.get("drop", ()):
            del resp.headers[k]
        for k, v in pol.get("set", {}).items():
            resp.headers[k] = v
        return resp

    def index() -> str:
        links, forms = [], []
        for r in routes:
            link = default_link(r)
            if link:
                name = r.view.__name__ if r.view else link
                links.append(f"<li><a href=\"{esc(link)}\">{esc(name)}</a></li>")
            if r.form:
                fields = "".join(f"<label>{esc(f)} <input name=\"{esc(f)}\" value=\"hello\">"
                                 f"</label>" for f in r.form)
                forms.append(f"<form method=\"post\" action=\"{esc(r.path)}\">{fields}"
                             f"<button>Send</button></form>")
        for path, fn in plain:
            links.append(f"<li><a href=\"{esc(path)}\">{esc(fn.__name__)}</a></li>")
        return page("Model serving", "<p>API: <a href='/openapi.json'>/openapi.json</a></p>"
                    "<ul>" + "".join(links) + "</ul>" + "".join(forms))

    def spec() -> Any:
        return Response(json.dumps(openapi(routes), indent=1), mimetype="application/json")

    def soft404(rest: str) -> str:
        # HARD NEGATIVE: every unknown path answers 200 with the same "not found" page.
        return page("Not found", "<p>Sorry, we could not find that page. Try the "
                                 "<a href='/'>home page</a>.</p>")

    app.add_url_rule("/", "index", index)
    app.add_url_rule("/openapi.json", "openapi", spec)
    app.add_url_rule("/<path:rest>", "soft404", soft404, methods=["GET", "POST"])
    return app, token


class _Handler(WSGIRequestHandler):
    """Werkzeug's handler without its own ``Server: Werkzeug/x Python/y`` banner: each route's
    Server header comes from the page policy (a version only where labelled)."""

    def send_response(self, code: int, message: str | None = None) -> None:
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=8808)
    ap.add_argument("--part", choices=["main", "heldout", "all"], default="all")
    ap.add_argument("--token", help="secret for the request-count path (default: random)")
    ap.add_argument("--write-labels", metavar="PATH", help="write labels.json and exit")
    a = ap.parse_args(argv)
    if a.write_labels:
        Path(a.write_labels).write_text(json.dumps(all_labels(), indent=1) + "\n",
                                        encoding="utf-8")
        return 0
    app, token = create_app(a.part, a.token)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    print(f"dast-bench ({a.part}) on http://127.0.0.1:{a.port}/ "
          f"requests at /__bench/requests-{token}", flush=True)
    app.run(host="127.0.0.1", port=a.port, threaded=True, debug=False, use_reloader=False,
            request_handler=_Handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
