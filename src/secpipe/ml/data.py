"""Reading a training or held-out table (CSV with a header), bounded and validated.

Used both by the steps (to check the input before any training starts and to score) and by the
training subprocess. Errors are :class:`InputError` lines naming the file, the line or the column.
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from secpipe.core.errors import InputError

MAX_FIELD_CHARS = 1 << 20


@dataclass(frozen=True)
class Table:
    """A loaded table: features, labels and what they are."""

    path: str
    """The file, as the user named it."""
    kind: Literal["text", "tabular"]
    """``text``: ``x`` is a list of strings; ``tabular``: a list of float rows."""
    x: list[str] | list[list[float]]
    """Feature values, one entry per row."""
    y: list[str]
    """Labels as read (strings)."""
    features: tuple[str, ...]
    """Feature column names."""
    target: str
    """Label column name."""

    @property
    def rows(self) -> int:
        return len(self.y)


def resolve_inside(root: Path, relative: str, what: str) -> Path:
    """``root/relative``, refused when it escapes the project (``..``, absolute, links out)."""
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root.resolve()):
        raise InputError(f"{what} {relative!r} is outside the project")
    return candidate


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_rows(path: Path, display: str, max_bytes: int = 512 << 20
              ) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the ``(line, fields)`` of every non-empty row, each as wide as the header."""
    try:
        size = path.stat().st_size
    except OSError:
        raise InputError(f"data file {display} does not exist") from None
    if size > max_bytes:
        raise InputError(f"data file {display}: {size} bytes is larger than max_data_bytes")
    csv.field_size_limit(MAX_FIELD_CHARS)
    rows: list[tuple[int, list[str]]] = []
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh, strict=True)
            header = next(reader, None)
            if not header:
                raise InputError(f"data file {display} is empty (no header line)")
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise InputError(f"data file {display} line {reader.line_num}: {len(row)} "
                                     f"fields, the header has {len(header)}")
                rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise InputError(f"data file {display}: malformed CSV: {exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"data file {display}: not UTF-8 text") from None
    return header, rows


def feature_names(header: list[str], display: str, target: str, features: list[str] | None,
                  exclude: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The feature columns: ``features``, else every column but the label and ``exclude``."""
    if target not in header:
        raise InputError(f"data file {display}: label column {target!r} does not exist "
                         f"(columns: {', '.join(header)})")
    unknown = [c for c in exclude if c not in header]
    if unknown:
        raise InputError(f"data file {display}: excluded column {unknown[0]!r} does not exist "
                         f"(columns: {', '.join(header)})")
    names = features if features else [c for c in header if c != target and c not in exclude]
    missing = [c for c in names if c not in header]
    if missing:
        raise InputError(f"data file {display}: feature column {missing[0]!r} does not "
                         f"exist (columns: {', '.join(header)})")
    if not names or target in names:
        raise InputError(f"data file {display}: features must be columns other than "
                         f"the label {target!r}")
    return names


def load_table(
    path: Path,
    display: str,
    target: str,
    features: list[str] | None,
    kind: Literal["auto", "text", "tabular"] = "auto",
    max_bytes: int = 512 << 20,
    exclude: list[str] | tuple[str, ...] = (),
) -> Table:
    """Load ``path``; ``display`` is the name used in messages."""
    header, rows = read_rows(path, display, max_bytes)
    names = feature_names(header, display, target, features, exclude)
    columns = {name: i for i, name in enumerate(header)}
    picks = [columns[c] for c in names]
    raw: list[list[str]] = []
    labels: list[str] = []
    for line, row in rows:
        raw.append([row[i] for i in picks])
        label = row[columns[target]]
        if label == "":
            raise InputError(f"data file {display} line {line}: empty label")
        labels.append(label)
    if not labels:
        raise InputError(f"data file {display} has a header but no rows")
    return _typed(display, raw, labels, tuple(names), target, kind)


def stratified_holdout(labels: list[str], fraction: float, seed: int) -> set[int]:
    """Indices of the held-out rows: ``fraction`` of each class (rounded, at least one row of a
    class with two or more, never all of a class), chosen with ``random.Random(seed)``."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible split, not a secret
    by_class: dict[str, list[int]] = {}
    for index, label in enumerate(labels):
        by_class.setdefault(label, []).append(index)
    held: set[int] = set()
    for label in sorted(by_class):
        indices = by_class[label]
        if len(indices) < 2:
            continue
        count = min(max(round(len(indices) * fraction), 1), len(indices) - 1)
        held.update(rng.sample(indices, count))
    return held


def split_file(path: Path, display: str, target: str, fraction: float, seed: int,
               max_bytes: int, train_out: Path, holdout_out: Path) -> tuple[int, int]:
    """Write the rows of ``path`` to ``train_out`` and ``holdout_out`` (both with the header),
    stratified by ``target``; returns (training rows, held-out rows)."""
    header, rows = read_rows(path, display, max_bytes)
    feature_names(header, display, target, None)
    column = header.index(target)
    held = stratified_holdout([row[column] for _, row in rows], fraction, seed)
    if not held:
        raise InputError(f"data file {display}: too few rows per class to hold {fraction:g} out")
    with train_out.open("w", newline="", encoding="utf-8") as train, \
            holdout_out.open("w", newline="", encoding="utf-8") as holdout:
        writers = csv.writer(train, lineterminator="\n"), csv.writer(holdout, lineterminator="\n")
        for writer in writers:
            writer.writerow(header)
        for index, (_, row) in enumerate(rows):
            writers[index in held].writerow(row)
    return len(rows) - len(held), len(held)


def _typed(display: str, raw: list[list[str]], labels: list[str], names: tuple[str, ...],
           target: str, kind: Literal["auto", "text", "tabular"]) -> Table:
    if kind == "auto":
        numeric = all(_number(r[0]) is not None for r in raw[:200])
        kind = "text" if len(names) == 1 and not numeric else "tabular"
    if kind == "text":
        if len(names) != 1:
            raise InputError(f"data file {display}: text input needs exactly one feature column")
        return Table(display, "text", [r[0] for r in raw], labels, names, target)
    rows: list[list[float]] = []
    for line, row in enumerate(raw, start=2):
        values = []
        for name, text in zip(names, row, strict=True):
            number = _number(text)
            if number is None:
                raise InputError(f"data file {display} line {line}: column {name!r} value "
                                 f"{text[:40]!r} is not a finite number")
            values.append(number)
        rows.append(values)
    return Table(display, "tabular", rows, labels, names, target)
