import json
from pathlib import Path

from flask import Flask, request

app = Flask(__name__)
CONFIG_DIR = Path("configs")


def load(name: str) -> dict:
    path = (CONFIG_DIR / name).with_suffix(".json")
    if CONFIG_DIR.resolve() not in path.resolve().parents:
        raise ValueError("bad name")
    return json.loads(path.read_text())


@app.get("/config")
def config():
    return load(request.args["name"])
