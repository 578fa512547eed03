from sentence_transformers import SentenceTransformer


class Embedder:
    def __init__(self, name: str) -> None:
        self.model = SentenceTransformer(name, trust_remote_code=True)

    def __call__(self, texts: list[str]):
        return self.model.encode(texts, normalize_embeddings=True)
