"""Serve the request classifier over HTTP.

    POST /predict        {"payload": "GET /search?q=..."}  ->  {"label": "sqli", "score": 0.97}
    POST /predict/batch  {"payloads": ["...", "..."]}       ->  {"results": [{...}, ...]}
    GET  /health                                            ->  {"status": "ok"}
    GET  /               a page with a form to try a payload (GET /try, GET /explain)
    GET  /openapi.json   the API's description

Run ``python train.py`` first, then ``python app/serve.py [--artifacts DIR] [--port 8080]``.
"""

from __future__ import annotations

import argparse
import os
import pickle
import traceback
from pathlib import Path
from typing import Any

import requests
from flask import Flask, Response, jsonify, request
from markupsafe import escape
from werkzeug.serving import WSGIRequestHandler, run_simple

DEFAULT_ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
MAX_PAYLOAD_CHARS = 8192
MAX_BATCH = 32

# Security headers every response carries; the API answers are never cached.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# DELIBERATE PLANTED PROBLEM (README.md, plant 12): the legacy about page was left out of the
# security headers when they were added. secpipe's DAST (scan-web) must report the missing
# headers there, and not on the pages that have them.
LEGACY_PAGES = {"/about"}

INDEX_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>request-classifier</title></head>
<body><h1>HTTP request payload classifier</h1>
<form action="/try" method="get"><label>Payload <input name="payload" value=""></label>
<button>Classify</button></form>
<form action="/explain" method="get"><label>Payload <input name="payload" value=""></label>
<button>Explain</button></form>
<p>API: <a href="/openapi.json">/openapi.json</a> &middot; <a href="/about">about</a>
&middot; <a href="/health">health</a></p></body></html>
"""

ABOUT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>about</title></head>
<body><p>Flags HTTP request payloads (SQL injection, XSS, command injection, path traversal)
for review. <a href="/">Back</a></p></body></html>
"""

OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "request-classifier", "version": "1.0"},
    "paths": {
        "/predict": {"post": {
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["payload"],
                "properties": {"payload": {"type": "string",
                                           "example": "GET /search?q=shoes"}}}}}},
            "responses": {"200": {"description": "the label and its score"}}}},
        "/predict/batch": {"post": {
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["payloads"],
                "properties": {"payloads": {"type": "array", "items": {"type": "string"},
                                            "example": ["GET /search?q=shoes"]}}}}}},
            "responses": {"200": {"description": "one label and score per payload"}}}},
    },
}


class QuietHandler(WSGIRequestHandler):
    """The development server without its version banner (``Werkzeug/x Python/y``)."""

    server_version = "request-classifier"
    sys_version = ""


def load_artifacts(artifacts_dir: Path) -> tuple[Any, Any, Any]:
    """Load (model, tokenizer, label encoder) written by ``train.py``.

    DELIBERATE PLANTED PROBLEM (see README.md): ``pickle.load`` runs whatever code the file
    tells it to, so anyone who can replace these files owns the server. secpipe's model scan
    must flag both the pickled artifacts and this unsafe load. Do not "fix" it here.
    """
    loaded = []
    for name in ("model.pkl", "tokenizer.pkl", "label_encoder.pkl"):
        with (artifacts_dir / name).open("rb") as fh:
            loaded.append(pickle.load(fh))  # unsafe on purpose: planted for the model scan
    return loaded[0], loaded[1], loaded[2]


def create_app(artifacts_dir: Path = DEFAULT_ARTIFACTS) -> Flask:
    """Build the Flask app around the artifacts in ``artifacts_dir``."""
    model, tokenizer, label_encoder = load_artifacts(artifacts_dir)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024

    def classify(payload: str) -> tuple[str, float]:
        probabilities = model.predict_proba(tokenizer.transform([payload]))[0]
        best = int(probabilities.argmax())
        label = str(label_encoder.inverse_transform([model.classes_[best]])[0])
        return label, round(float(probabilities[best]), 4)

    def json_body() -> Any:
        try:
            return request.get_json(silent=True)
        except RecursionError:  # nesting deeper than the parser's recursion limit
            return None

    @app.after_request
    def security_headers(response: Response) -> Response:
        if request.path not in LEGACY_PAGES:
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
        if response.mimetype == "application/json":
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.get("/")
    def index() -> Any:
        return Response(INDEX_PAGE, mimetype="text/html")

    @app.get("/about")
    def about() -> Any:
        return Response(ABOUT_PAGE, mimetype="text/html")

    @app.get("/openapi.json")
    def openapi() -> Any:
        return jsonify(OPENAPI)

    @app.get("/try")
    def try_payload() -> Any:
        """DELIBERATE PLANTED PROBLEM (README.md, plant 11): the payload is written into the
        page as it came, unescaped: reflected cross-site scripting. secpipe's DAST must report
        it; ``/explain`` beside it escapes the same value and must not be reported."""
        payload = request.args.get("payload", "")[:MAX_PAYLOAD_CHARS]
        label, score = classify(payload)
        return Response(f"<!doctype html><title>result</title><p>{payload} looks like "
                        f"<b>{label}</b> ({score})</p>", mimetype="text/html")

    @app.get("/explain")
    def explain() -> Any:
        payload = request.args.get("payload", "")[:MAX_PAYLOAD_CHARS]
        label, score = classify(payload)
        return Response(f"<!doctype html><title>result</title><p>{escape(payload)} looks like "
                        f"<b>{label}</b> ({score})</p>", mimetype="text/html")

    @app.get("/health")
    def health() -> Any:
        return jsonify(status="ok")

    @app.post("/predict")
    def predict() -> Any:
        body = json_body()
        payload = body.get("payload") if isinstance(body, dict) else None
        if not isinstance(payload, str):
            return jsonify(error='expected a JSON object {"payload": "<string>"}'), 400
        if len(payload) > MAX_PAYLOAD_CHARS:
            return jsonify(error=f"payload longer than {MAX_PAYLOAD_CHARS} characters"), 413
        label, score = classify(payload)
        return jsonify(label=label, score=score)

    @app.post("/predict/batch")
    def predict_batch() -> Any:
        """DELIBERATE PLANTED PROBLEM (README.md, plant 13): any error is answered with the
        Python traceback (file paths, code, library internals). secpipe's DAST must report the
        verbose error here; ``/predict`` answers bad input with a plain 400."""
        try:
            payloads = json_body()["payloads"][:MAX_BATCH]
            results = [dict(zip(("label", "score"), classify(p), strict=True))
                       for p in payloads]
            return jsonify(results=results)
        except Exception:
            return Response(traceback.format_exc(), status=500, mimetype="text/plain")

    @app.post("/admin/reload")
    def reload_model() -> Any:
        """Swap in a retrained model published at a URL: ``{"url": "https://.../model.pkl"}``.

        DELIBERATE PLANTED PROBLEM (see README.md): the bytes come from a URL the *request*
        names and go straight into ``pickle.loads``, so any caller of this endpoint runs code in
        the server. secpipe's code scan must flag this load as a request-to-pickle path.
        """
        nonlocal model
        body = request.get_json(silent=True) or {}
        url = body.get("url", "")
        response = requests.get(url, timeout=30)
        model = pickle.loads(response.content)  # unsafe on purpose: planted for the code scan
        return jsonify(status="reloaded")

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the HTTP request classifier.")
    parser.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    args = parser.parse_args(argv)
    run_simple(args.host, args.port, create_app(args.artifacts), threaded=True,
               request_handler=QuietHandler)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
