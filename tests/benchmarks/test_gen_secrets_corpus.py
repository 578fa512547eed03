"""The secrets benchmark generator writes a corpus its labels describe exactly."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "secrets"
sys.path.insert(0, str(BENCH))

import gen_corpus  # noqa: E402
import labelcheck  # noqa: E402


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("secrets-corpus")
    return out, gen_corpus.generate(out, seed=7, large_mib=1)


def test_every_label_points_at_its_secret(corpus: tuple[Path, dict]) -> None:
    out, _ = corpus
    assert labelcheck.check(out) == []


def test_corpus_covers_kinds_contexts_and_decoys(corpus: tuple[Path, dict]) -> None:
    _, doc = corpus
    summary = doc["summary"]
    assert summary["kinds"] >= 50
    assert summary["decoys"] >= 120
    contexts = summary["by_context"]
    assert contexts["notebook-source"] + contexts["notebook-output"] >= 7
    assert contexts["history"] >= 5 and contexts["archive"] >= 5
    assert summary["large_secrets"] >= 1
    assert summary["holdout_secrets"] >= 40 and summary["holdout_decoys"] >= 10


def test_labels_never_hold_a_secret_in_clear(corpus: tuple[Path, dict]) -> None:
    out, doc = corpus
    text = (out / "labels.json").read_text()
    for label in doc["secrets"][:40]:
        secret = labelcheck.secret_at(labelcheck.label_text(out, label), label)
        assert secret not in text


def test_history_secrets_are_gone_from_the_working_tree(corpus: tuple[Path, dict]) -> None:
    out, doc = corpus
    head = {
        p.relative_to(out / "history").as_posix()
        for p in (out / "history").rglob("*")
        if p.is_file() and ".git" not in p.parts
    }
    for label in doc["secrets"]:
        if label["root"] == "history":
            text = labelcheck.label_text(out, label)
            secret = labelcheck.secret_at(text, label)
            if label["path"] in head:
                assert secret not in (out / "history" / label["path"]).read_text()


def test_generation_is_deterministic(corpus: tuple[Path, dict], tmp_path: Path) -> None:
    _, doc = corpus
    again = gen_corpus.generate(tmp_path, seed=7, large_mib=0)
    first = [s for s in doc["secrets"] if s["root"] != "large"]
    assert json.dumps(again["secrets"]) == json.dumps(first)
    assert json.dumps(again["decoys"]) == json.dumps(doc["decoys"])
