import os

import requests

API_URL = "https://api-inference.huggingface.co/models/facebook/bart-large-cnn"
TOKEN_PLACEHOLDER = "hf_xxx"


def summarise(text: str) -> str:
    headers = {"Authorization": f"Bearer {os.environ['HF_API_TOKEN']}"}
    r = requests.post(API_URL, headers=headers, json={"inputs": text}, timeout=60)
    r.raise_for_status()
    return r.json()[0]["summary_text"]
