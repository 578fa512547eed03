"""Train the request classifier the plain way and write its artifacts.

This is the script the project had before adopting secpipe: it fits ``model.build_estimator``
on ``data/requests.csv``, prints accuracy on ``data/holdout.csv`` and pickles three files into
``artifacts/`` (model, tokenizer, label encoder) for ``app/serve.py``. Pickle is deliberate
here (see README.md, "Planted problems"): it is what secpipe's model scan must catch.

    python train.py [--data data/requests.csv] [--holdout data/holdout.csv] [--out artifacts]
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import build_dataset
from model import build_estimator, load_data
from sklearn.metrics import accuracy_score, classification_report
from sklearn.preprocessing import LabelEncoder

HERE = Path(__file__).resolve().parent


def train(data: Path, holdout: Path, out_dir: Path, seed: int = 0) -> tuple[float, str]:
    """Fit on ``data``, write the pickled artifacts, return (holdout accuracy, report)."""
    if not data.exists() or not holdout.exists():
        build_dataset.build(data.parent)
    x_train, y_train = load_data(data)
    x_test, y_test = load_data(holdout)

    encoder = LabelEncoder().fit(y_train)
    estimator = build_estimator(seed)
    estimator.fit(x_train, encoder.transform(y_train))
    predicted = encoder.inverse_transform(estimator.predict(x_test))
    accuracy = float(accuracy_score(y_test, predicted))
    report = str(classification_report(y_test, predicted, digits=3))

    out_dir.mkdir(parents=True, exist_ok=True)
    artifacts = {
        "model.pkl": estimator.named_steps["clf"],
        "tokenizer.pkl": estimator.named_steps["tfidf"],
        "label_encoder.pkl": encoder,
    }
    for name, obj in artifacts.items():
        with (out_dir / name).open("wb") as fh:
            pickle.dump(obj, fh)
    return accuracy, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the HTTP request classifier.")
    parser.add_argument("--data", type=Path, default=HERE / "data" / "requests.csv")
    parser.add_argument("--holdout", type=Path, default=HERE / "data" / "holdout.csv")
    parser.add_argument("--out", type=Path, default=HERE / "artifacts")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    accuracy, report = train(args.data, args.holdout, args.out, args.seed)
    print(report)
    print(f"holdout accuracy: {accuracy:.4f}")
    print(f"artifacts written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
