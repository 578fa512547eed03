import torch
from flask import Flask, jsonify, request
from safetensors.torch import load_file

from model import Net

app = Flask(__name__)
net = Net()
net.load_state_dict(load_file("weights/net.safetensors"))
net.eval()


@app.post("/infer")
def infer():
    x = torch.tensor(request.json["x"])
    return jsonify(net(x).tolist())


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=8080, debug=True)
