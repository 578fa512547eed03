"""Small real web apps for H7's probe tests (open redirect, SSRF, model endpoints): each
vulnerable route has a safe twin. Served by werkzeug on 127.0.0.1:<free port> in a thread."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import math
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask, Response, abort, jsonify, redirect, render_template_string, request
from werkzeug.serving import make_server

from secpipe.scanners.web.http import Client, ClientSettings, origin_of
from secpipe.scanners.web.model import InputKind, InputPoint, Site
from secpipe.scanners.web.probes import ProbeContext


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """``app`` served on a free loopback port; yields its base URL, stops it at the end."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def context(base: str, points: list[InputPoint], **kwargs: Any) -> ProbeContext:
    """A probe context with a real client scoped to ``base``."""
    client = Client(ClientSettings(origins=(origin_of(base),), timeout=10.0))
    site = Site(base_url=base, origins=(origin_of(base),), points=points)
    return ProbeContext(client=client, site=site, **kwargs)


def query(base: str, path: str, name: str, sample: str, method: str = "GET") -> InputPoint:
    return InputPoint(InputKind.QUERY, method, base + path, name, params=((name, sample),))


def form(base: str, path: str, name: str, sample: str, **others: str) -> InputPoint:
    params = ((name, sample), *others.items())
    return InputPoint(InputKind.FORM, "POST", base + path, name, params=params)


def json_point(base: str, path: str, name: str, body: dict[str, Any]) -> InputPoint:
    return InputPoint(InputKind.JSON, "POST", base + path, name, json_body=json.dumps(body))


# --- open redirect -----------------------------------------------------------------------------
def redirect_app() -> Flask:
    app = Flask("h7-redirect")

    @app.get("/go")
    def go() -> Any:  # vulnerable: any target
        return redirect(request.args.get("next", "/"))

    @app.get("/safe")
    def safe() -> Any:  # twin: relative paths only, parsed as a browser would
        target = request.args.get("next", "/").replace("\\", "/")
        if not target.startswith("/") or target.startswith("//"):
            target = "/"
        return redirect(target)

    @app.get("/allow")
    def allow() -> Any:  # twin: allowlisted hosts only
        target = request.args.get("url", "/")
        relative = target.startswith("/") and not target.startswith(("//", "/\\"))
        if not relative and not target.startswith("https://docs.example.org/"):
            target = "/"
        return redirect(target)

    @app.get("/prefix")
    def prefix() -> Any:  # vulnerable: "starts with our own URL" is no host check
        target = request.args.get("url", "/")
        if not target.startswith(request.host_url.rstrip("/")):
            target = "/"
        return redirect(target)

    @app.get("/within")
    def within() -> Any:  # twin: the value only lands in a same-site query string
        return redirect("/login?" + "from=" + request.args.get("next", ""))

    @app.get("/meta")
    def meta() -> Any:  # vulnerable: meta refresh
        return render_template_string(
            '<html><head><meta http-equiv="refresh" content="0; url={{ u }}"></head>'
            "<body>moving</body></html>", u=request.args.get("return_to", "/"))

    @app.get("/script")
    def script() -> Any:  # vulnerable: location assignment
        return render_template_string(
            "<html><body><script>window.location.href = {{ u|tojson }};</script></body></html>",
            u=request.args.get("dest", "/"))

    @app.get("/show")
    def show() -> Any:  # twin: the URL only shown as a link text in JSON
        return jsonify(next=request.args.get("next", ""))

    @app.post("/login")
    def login() -> Any:  # vulnerable POST form
        return redirect(request.form.get("continue", "/"), code=303)

    flask_wsgi = app.wsgi_app

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        """/naive, outside Flask (which percent-encodes a backslash in Location, as
        Express or a hand-written handler do not): blocks "//" and schemes, not "/\\host"."""
        if environ.get("PATH_INFO") != "/naive":
            return flask_wsgi(environ, start_response)
        target = parse_qs(environ.get("QUERY_STRING", "")).get("url", ["/"])[0]
        if target.startswith("//") or "://" in target or not target.startswith("/"):
            target = "/"
        start_response("302 Found", [("Location", target), ("Content-Length", "0")])
        return [b""]

    app.wsgi_app = wsgi  # type: ignore[method-assign]
    return app


# --- SSRF --------------------------------------------------------------------------------------
def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=3) as answer:  # noqa: S310 (the test target)
        data: bytes = answer.read(4096)
        return data


def ssrf_app() -> Flask:
    app = Flask("h7-ssrf")

    @app.get("/fetch")
    def fetch() -> Any:  # vulnerable, full response
        try:
            return Response(_fetch(request.args["url"]), mimetype="text/plain")
        except Exception:
            return Response("fetch failed", status=502)

    @app.post("/hooks")
    def hooks() -> Any:  # vulnerable, blind (fetches in the background)
        doc = request.get_json(silent=True) or {}
        url = str(doc.get("callback_url", ""))

        def later() -> None:
            time.sleep(0.3)
            with contextlib.suppress(Exception):
                _fetch(url)
        threading.Thread(target=later, daemon=True).start()
        return jsonify(queued=True)

    @app.get("/status")
    def status() -> Any:  # vulnerable: builds the URL from a host parameter
        host = request.args.get("host", "example.com")
        try:
            _fetch(f"http://{host}/health")
        except Exception:
            return jsonify(up=False)
        return jsonify(up=True)

    @app.get("/thumb")
    def thumb() -> Any:  # vulnerable: blocks the literal loopback address only
        url = request.args.get("src", "")
        if "127.0.0.1" in url:
            return Response("refused", status=400)
        try:
            _fetch(url)
        except Exception:
            return Response("no image", status=404)
        return Response("thumbnail made", mimetype="text/plain")

    @app.get("/safe-fetch")
    def safe_fetch() -> Any:  # twin: allowlisted hosts only
        url = request.args.get("url", "")
        if urlsplit(url).hostname not in ("images.example.org",):
            return Response("host not allowed", status=400)
        return Response(_fetch(url), mimetype="text/plain")

    @app.get("/preview")
    def preview() -> Any:  # twin: refuses loopback / private addresses
        url = request.args.get("link", "")
        host = urlsplit(url).hostname or ""
        try:
            private = ipaddress.ip_address(host).is_private or host == "localhost"
        except ValueError:
            private = host == "localhost"
        if private:
            return Response("refused", status=400)
        return Response("ok", mimetype="text/plain")

    return app


# --- model endpoints ---------------------------------------------------------------------------
_CLASSES = ("spam", "ham", "eggs")


def _label(text: str) -> str:
    return "spam" if "win" in text.lower() else "ham"


def _parse(limit_types: dict[str, type | tuple[type, ...]]) -> dict[str, Any]:
    """Strict body parsing of the safe routes: 415 / 400 / 413 on bad input."""
    if request.mimetype != "application/json":
        abort(415)
    length = request.content_length or 0
    if length > 64 * 1024:
        abort(413)
    try:
        doc = json.loads(request.get_data(cache=False).decode("utf-8"))
    except (ValueError, RecursionError):
        abort(400)
    if not isinstance(doc, dict):
        abort(400)
    for key, kind in limit_types.items():
        value = doc.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            abort(400)
        if isinstance(value, float) and not math.isfinite(value):
            abort(400)
    return doc


def ml_app(limit: int = 10) -> Flask:
    app = Flask("h7-ml")
    app.config["MAX_CONTENT_LENGTH"] = 256 * 1024
    counters: dict[str, int] = {}
    lock = threading.Lock()

    @app.post("/v1/crash/predict")
    def crash_predict() -> Any:  # vulnerable: no validation, 500 on wrong types
        doc = json.loads(request.get_data())
        return {"label": _label(doc["text"].lower())}

    @app.post("/v1/safe/predict")
    def safe_predict() -> Any:  # twin: validated (4xx), label only, rate-limited
        with lock:
            counters["safe"] = counters.get("safe", 0) + 1
            if counters["safe"] > limit:
                return Response("slow down", status=429, headers={"Retry-After": "60"})
        doc = _parse({"text": str})
        return {"label": _label(doc["text"])}

    @app.post("/busy/predict")
    def busy_predict() -> Any:  # twin: validated; sheds load with 503 + Retry-After
        with lock:
            counters["busy"] = counters.get("busy", 0) + 1
            if counters["busy"] % 3 == 0:
                return Response("busy", status=503, headers={"Retry-After": "0"})
        doc = _parse({"text": str})
        return {"label": _label(doc["text"])}

    @app.post("/echo/predict")
    def echo_predict() -> Any:  # vulnerable: echoes the input
        doc = _parse({"text": str})
        return {"label": _label(doc["text"]), "input": {"text": doc["text"]}}

    @app.post("/api/v2/run")
    def run() -> Any:  # vulnerable echo on a route without a model-ish name
        doc = _parse({"text": str})
        return {"prediction": _label(doc["text"]), "received": doc["text"]}

    @app.post("/vec/predict")
    def vec() -> Any:  # vulnerable: echoes the feature vector
        doc = _parse({"features": list})
        return {"label": "ok", "features_used": doc["features"]}

    @app.post("/proba/classify")
    def proba() -> Any:  # vulnerable: every class probability, model path, library version
        doc = _parse({"text": str})
        spam = 0.8 if _label(doc["text"]) == "spam" else 0.1
        return {"label": _label(doc["text"]),
                "probabilities": {"spam": spam, "ham": round(0.95 - spam, 2), "eggs": 0.05},
                "model": {"path": "/app/artifacts/model.pkl", "sklearn_version": "1.4.2"}}

    @app.post("/score")
    def score() -> Any:  # vulnerable: the model's error text on a wrong feature count
        doc = request.get_json(force=True, silent=True)
        features = doc.get("features") if isinstance(doc, dict) else None
        if not isinstance(features, list) or len(features) != 3:
            got = len(features) if isinstance(features, list) else 1
            return Response(
                json.dumps({"error": f"X has {got} features, but LogisticRegression is "
                            "expecting 3 features as input."}),
                status=400, mimetype="application/json")
        return {"score": 0.42}

    @app.post("/slow/infer")
    def slow() -> Any:  # vulnerable: a loop that never settles on NaN (bounded to 3 s here)
        doc = _parse({})
        x = doc.get("x")
        if not isinstance(x, (int, float)) or isinstance(x, bool):
            abort(400)
        deadline = time.monotonic() + 3
        while math.isnan(x) and time.monotonic() < deadline:
            time.sleep(0.05)
        return {"prediction": 0 if math.isnan(x) else float(x) * 2}

    @app.get("/v1/classify")
    def classify_get() -> Any:  # vulnerable GET: a missing parameter is a 500
        return {"label": _label(request.args.get("text").lower())}  # type: ignore[union-attr]

    @app.get("/model/info")
    def info() -> Any:  # vulnerable (seen by the crawl): library versions and the model path
        return {"name": "spam-filter", "versions": {"sklearn": "1.4.2", "numpy": "1.26.4"},
                "artifact": "/app/artifacts/model.joblib"}

    @app.post("/api/comments")
    def comments() -> Any:  # not a model: echoes, 500s on wrong types; no ML finding here
        doc = json.loads(request.get_data())
        return {"id": 7, "text": doc["text"].strip()}

    return app
