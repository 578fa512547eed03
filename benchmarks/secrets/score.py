"""Match tool findings to labels and compute recall, precision and decoy hits."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

#: context -> the group recall is also reported for
GROUPS = {
    "notebook-source": "notebooks",
    "notebook-output": "notebooks",
    "history": "history",
    "archive": "archives",
}
_CELL = re.compile(r"cell[\[/ _-]?(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class Hit:
    """One finding, reduced to where it points."""

    root: str
    """``tree``, ``history`` or ``large``."""
    path: str
    """Path relative to the scanned root (an archive's own path when ``member`` is set)."""
    line: int | None
    member: str | None = None
    commit: str | None = None
    rule: str = ""


def split_member(path: str, member: str | None) -> tuple[str, str | None]:
    """``a.zip!x/y.env`` -> (``a.zip``, ``x/y.env``): tools that fold the member into the path."""
    path = path.removeprefix("./")
    if member is None and "!" in path:
        outer, _, inner = path.partition("!")
        return outer, inner
    return path, member


def _commit_ok(label: dict[str, Any], hit: Hit, head: str | None) -> bool:
    commits = label.get("commits")
    if not commits:
        return hit.commit is None
    want = hit.commit or head
    return want is not None and any(c.startswith(want) or want.startswith(c) for c in commits)


def _cell_of(member: str | None) -> int | None:
    if not member:
        return None
    m = _CELL.search(member)
    return int(m.group(1)) if m else None


def _distance(label: dict[str, Any], hit: Hit) -> int | None:
    """How far the hit is from the label (0 = inside it), or None when it does not match."""
    if "cell" in label and label.get("member") is None:
        cell = _cell_of(hit.member)
        if cell is not None:
            return 0 if cell == label["cell"] else None
    elif (hit.member or None) != (label.get("member") or None):
        return None
    if hit.line is None:
        return 1
    if label["line"] <= hit.line <= label["end_line"]:
        return 0
    gap = min(abs(hit.line - label["line"]), abs(hit.line - label["end_line"]))
    return gap if gap <= 1 else None


class Index:
    """Labels of one corpus, indexed by (root, path)."""

    def __init__(self, labels: dict[str, Any], heads: dict[str, str]) -> None:
        self.by_file: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for label in labels["secrets"]:
            self.by_file[(label["root"], label["path"])].append({**label, "_secret": True})
        for label in labels["decoys"]:
            self.by_file[(label["root"], label["path"])].append({**label, "_secret": False})
        self.heads = heads

    def match(self, hit: Hit) -> dict[str, Any] | None:
        best: tuple[int, int, dict[str, Any]] | None = None
        for label in self.by_file.get((hit.root, hit.path), []):
            if not _commit_ok(label, hit, self.heads.get(hit.root)):
                continue
            dist = _distance(label, hit)
            if dist is None:
                continue
            key = (dist, 0 if label["_secret"] else 1, label)
            if best is None or key[:2] < best[:2]:
                best = key
        return best[2] if best else None


def score(
    labels: dict[str, Any], hits: list[Hit], heads: dict[str, str], roots: set[str]
) -> dict[str, Any]:
    """Recall/precision over the labels of ``roots`` for the (deduplicated) hits."""
    index = Index(labels, heads)
    secrets = [s for s in labels["secrets"] if s["root"] in roots]
    found: set[str] = set()
    decoys_hit: set[str] = set()
    tp = fp_decoy = fp_other = 0
    unmatched: list[str] = []
    seen: set[tuple[Any, ...]] = set()
    for hit in hits:
        key = (hit.root, hit.path, hit.member, hit.commit, hit.line)
        if key in seen or hit.root not in roots:
            continue
        seen.add(key)
        label = index.match(hit)
        if label is None:
            fp_other += 1
            unmatched.append(
                f"{hit.path}{'!' + hit.member if hit.member else ''}:{hit.line} {hit.rule}"
            )
        elif label["_secret"]:
            tp += 1
            found.add(label["id"])
        else:
            fp_decoy += 1
            decoys_hit.add(label["id"])
    reported = tp + fp_decoy + fp_other
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_group: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for s in secrets:
        got = int(s["id"] in found)
        by_kind[s["kind"]][0] += got
        by_kind[s["kind"]][1] += 1
        group = GROUPS.get(s["context"], "plain files")
        if s["context"].startswith("holdout"):
            group = "held-out contexts"
        for g in (group, "all"):
            by_group[g][0] += got
            by_group[g][1] += 1
    decoy_labels = {d["id"]: d for d in labels["decoys"]}
    return {
        "secrets": len(secrets),
        "found": len(found),
        "recall": len(found) / len(secrets) if secrets else None,
        "reported_locations": reported,
        "true_positive_locations": tp,
        "precision": tp / reported if reported else None,
        "decoys_reported": len(decoys_hit),
        "decoy_categories_reported": dict(Counter(decoy_labels[d]["category"] for d in decoys_hit)),
        "other_false_positives": fp_other,
        "by_group": {g: {"found": v[0], "total": v[1]} for g, v in sorted(by_group.items())},
        "by_kind": {k: {"found": v[0], "total": v[1]} for k, v in sorted(by_kind.items())},
        "missed_kinds": sorted(k for k, v in by_kind.items() if v[0] < v[1]),
        "missed": sorted(
            f"{s['id']} {s['kind']} {s['root']}/{s['path']}"
            f"{'!' + s['member'] if s.get('member') else ''}:{s['line']}"
            for s in secrets
            if s["id"] not in found
        ),
        "decoys_reported_detail": sorted(
            f"{d} {decoy_labels[d]['category']} {decoy_labels[d]['path']}:{decoy_labels[d]['line']}"
            for d in decoys_hit
        ),
        "other_false_positive_detail": unmatched[:50],
    }
