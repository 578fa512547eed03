import json

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/experiments")
def create_experiment():
    cfg = json.load(request.files["config"])
    return jsonify({"name": cfg["name"], "params": len(cfg.get("params", {}))})
