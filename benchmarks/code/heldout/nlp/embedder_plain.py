from sentence_transformers import SentenceTransformer


class Embedder:
    def __init__(self, name: str = "sentence-transformers/all-mpnet-base-v2") -> None:
        self.model = SentenceTransformer(name)

    def __call__(self, texts: list[str]):
        return self.model.encode(texts)
