from flask import Flask, request
from sentence_transformers import SentenceTransformer

app = Flask(__name__)
encoder = SentenceTransformer("all-MiniLM-L6-v2")
DEBUG = True
PORT = 5000


@app.post("/embed")
def embed():
    return {"vector": encoder.encode(request.json["text"]).tolist()}


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=PORT, debug=DEBUG)
