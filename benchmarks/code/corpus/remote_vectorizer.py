import pickle as pkl

import requests

VECTORIZER_URL = "https://models.example.org/sentiment/tfidf.pkl"


class RemoteVectorizer:
    def __init__(self, url: str = VECTORIZER_URL) -> None:
        resp = requests.get(url, timeout=30)
        resp.raise_for_status()
        payload = resp.content
        self._vec = pkl.loads(payload)

    def transform(self, texts):
        return self._vec.transform(texts)
