"""The request classifier's estimator and data loader.

``build_estimator`` is the function a pipeline's ``train`` step names: it returns an unfitted
scikit-learn estimator and has no side effects. Character n-grams suit HTTP payloads: they see
``%27``, ``/**/``, ``../`` and ``<svg`` without a tokenizer that would have to know every
encoding. ``SGDClassifier`` with logistic loss learns incrementally (``partial_fit``) and gives
class probabilities, which the serving app reports as the score.
"""

from __future__ import annotations

import csv
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import Pipeline

FEATURES = "payload"
TARGET = "label"


def build_estimator(seed: int = 0) -> Pipeline:
    """Return the unfitted TF-IDF (character 1-4 grams) + linear classifier pipeline."""
    return Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(
                    analyzer="char",
                    ngram_range=(1, 4),
                    lowercase=True,
                    sublinear_tf=True,
                    min_df=2,
                    max_features=40000,
                ),
            ),
            (
                "clf",
                SGDClassifier(
                    loss="log_loss",
                    alpha=1e-5,
                    max_iter=50,
                    tol=1e-4,
                    class_weight="balanced",
                    random_state=seed,
                ),
            ),
        ]
    )


def load_data(path: str | Path) -> tuple[list[str], list[str]]:
    """Read a ``payload,label`` CSV into parallel lists of payloads and labels."""
    payloads: list[str] = []
    labels: list[str] = []
    with Path(path).open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {FEATURES, TARGET} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for row in reader:
            payloads.append(row[FEATURES])
            labels.append(row[TARGET])
    return payloads, labels
