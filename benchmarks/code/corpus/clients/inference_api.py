import requests

API_URL = "https://api-inference.huggingface.co/models/facebook/bart-large-cnn"
HEADERS = {"Authorization": "Bearer hf_" "WkTnPqRsYvLmXzBcDfGhJaNuEiOwQrTyUp"}


def summarise(text: str) -> str:
    r = requests.post(API_URL, headers=HEADERS, json={"inputs": text}, timeout=60)
    r.raise_for_status()
    return r.json()[0]["summary_text"]
