import io

import torch
from flask import Flask, jsonify, request

app = Flask(__name__)
model = torch.jit.load("model/scripted.pt")


@app.post("/predict")
def predict():
    upload = request.files["tensor"]
    batch = torch.load(io.BytesIO(upload.read()))
    with torch.no_grad():
        scores = model(batch)
    return jsonify(scores.tolist())
