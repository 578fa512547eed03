"""The secrets benchmark matches findings to labels by file+line, member, cell and commit."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "secrets"
sys.path.insert(0, str(BENCH))

from score import Hit, score, split_member  # noqa: E402


def _labels() -> dict[str, Any]:
    base = {"end_line": None, "member": None, "commits": None, "context": "py"}
    secrets = [
        {
            **base,
            "id": "S1",
            "kind": "a",
            "root": "tree",
            "path": "a.py",
            "line": 10,
            "end_line": 10,
        },
        {
            **base,
            "id": "S2",
            "kind": "b",
            "root": "tree",
            "path": "b.zip",
            "line": 3,
            "end_line": 3,
            "member": "x/y.env",
            "context": "archive",
        },
        {
            **base,
            "id": "S3",
            "kind": "c",
            "root": "tree",
            "path": "n.ipynb",
            "line": 40,
            "end_line": 40,
            "cell": 2,
            "context": "notebook-output",
        },
        {
            **base,
            "id": "S4",
            "kind": "d",
            "root": "history",
            "path": "c.py",
            "line": 5,
            "end_line": 5,
            "commits": ["abc123"],
            "context": "history",
        },
    ]
    decoys = [
        {
            **base,
            "id": "D1",
            "category": "uuid",
            "root": "tree",
            "path": "a.py",
            "line": 14,
            "end_line": 14,
        }
    ]
    return {"secrets": secrets, "decoys": decoys}


def test_line_within_one_matches_and_decoy_hits_count_against_precision() -> None:
    hits = [Hit("tree", "a.py", 11), Hit("tree", "a.py", 14)]
    result = score(_labels(), hits, {}, {"tree"})
    assert result["found"] == 1 and result["decoys_reported"] == 1
    assert result["precision"] == 0.5


def test_archive_member_folded_into_path_matches() -> None:
    path, member = split_member("b.zip!x/y.env", None)
    result = score(_labels(), [Hit("tree", path, 3, member)], {}, {"tree"})
    assert result["by_group"]["archives"] == {"found": 1, "total": 1}


def test_notebook_cell_member_matches_regardless_of_line() -> None:
    result = score(_labels(), [Hit("tree", "n.ipynb", 1, "cell[2]/outputs[0]")], {}, {"tree"})
    assert result["by_group"]["notebooks"] == {"found": 1, "total": 1}


def test_history_hit_needs_a_commit_holding_the_secret() -> None:
    wrong = score(_labels(), [Hit("history", "c.py", 5, None, "fff999")], {}, {"history"})
    right = score(_labels(), [Hit("history", "c.py", 5, None, "abc123")], {}, {"history"})
    assert wrong["found"] == 0 and wrong["other_false_positives"] == 1
    assert right["found"] == 1
