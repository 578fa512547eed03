import pickle
from pathlib import Path

_ASSETS = Path(__file__).resolve().parent / "assets"
VOCAB_FILE = _ASSETS / "vocab.pkl"


def load_vocab() -> dict[str, int]:
    with VOCAB_FILE.open("rb") as fh:
        return pickle.load(fh)
