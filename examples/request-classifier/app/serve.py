"""Serve the request classifier over HTTP.

    POST /predict  {"payload": "GET /search?q=..."}  ->  {"label": "sqli", "score": 0.97}
    GET  /health                                      ->  {"status": "ok"}

Run ``python train.py`` first, then ``python app/serve.py [--artifacts DIR] [--port 8080]``.
"""

from __future__ import annotations

import argparse
import os
import pickle
from pathlib import Path
from typing import Any

import requests
from flask import Flask, jsonify, request

DEFAULT_ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
MAX_PAYLOAD_CHARS = 8192


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

    @app.get("/health")
    def health() -> Any:
        return jsonify(status="ok")

    @app.post("/predict")
    def predict() -> Any:
        body = request.get_json(silent=True)
        payload = body.get("payload") if isinstance(body, dict) else None
        if not isinstance(payload, str):
            return jsonify(error='expected a JSON object {"payload": "<string>"}'), 400
        if len(payload) > MAX_PAYLOAD_CHARS:
            return jsonify(error=f"payload longer than {MAX_PAYLOAD_CHARS} characters"), 413
        probabilities = model.predict_proba(tokenizer.transform([payload]))[0]
        best = int(probabilities.argmax())
        label = str(label_encoder.inverse_transform([model.classes_[best]])[0])
        return jsonify(label=label, score=round(float(probabilities[best]), 4))

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
    create_app(args.artifacts).run(host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
