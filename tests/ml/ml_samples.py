"""Sample builders for the ML tests (imported by conftest and the tests)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

MODEL_PY = '''
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import Pipeline


def build_estimator(seed=0):
    return Pipeline([
        ("tfidf", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=1)),
        ("clf", SGDClassifier(loss="log_loss", alpha=1e-4, random_state=seed)),
    ])
'''

_WORDS = ("shoes", "books", "lamp", "garden", "phone", "desk", "coffee", "bike")
_ATTACKS = {
    "sqli": ("' OR 1=1--", "1 UNION SELECT password FROM users", "'; DROP TABLE users;--"),
    "xss": ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>"),
}


def make_rows(n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` labelled payloads (benign / sqli / xss), seeded."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = ("benign", "sqli", "xss")[i % 3]
        word = rng.choice(_WORDS)
        if label == "benign":
            payload = f"GET /products/{rng.randint(1, 9999)}?q={word}&page={rng.randint(1, 20)}"
        else:
            payload = f"GET /search?q={word}{rng.choice(_ATTACKS[label])}&id={rng.randint(1, 99)}"
        rows.append((payload, label))
    return rows


def write_csv(path: Path, rows: list[tuple[str, str]], header: tuple[str, str] = ("payload",
                                                                              "label")) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
