import keras
from flask import Flask, jsonify, request
from huggingface_hub import hf_hub_download

app = Flask(__name__)
_cache = {}


def get_model(repo: str):
    if repo not in _cache:
        path = hf_hub_download(repo, "model.keras")
        _cache[repo] = keras.models.load_model(path, safe_mode=False)
    return _cache[repo]


@app.post("/predict/<path:repo>")
def predict(repo):
    model = get_model(repo)
    return jsonify(model.predict(request.json["inputs"]).tolist())
