"""Perturbation families for the robustness evaluation, seeded and deterministic.

Text families are the obfuscations attackers use on HTTP payloads; each keeps the meaning a
server would decode, so a robust classifier keeps its label:

* ``case``: random upper/lower case per letter (``SeLeCt``).
* ``whitespace``: spaces become tabs, several spaces or ``+``.
* ``url-encoding``: a share of characters percent-encoded (``%27``).
* ``double-encoding``: percent signs encoded again (``%2527``).
* ``homoglyph``: Latin letters swapped for look-alike Cyrillic and Greek ones.
* ``comment-injection``: SQL comments ``/**/`` between words.
* ``html-entity``: some characters as numeric HTML entities (``&#60;``).
* ``null-byte``: ``%00`` inserted at word boundaries.

Tabular: ``gaussian-noise`` adds noise with standard deviation ``scale`` times each column's own,
clipped to the column's observed range (bounded).
"""

from __future__ import annotations

import random
from collections.abc import Callable

# Latin letter -> a Cyrillic or Greek look-alike (escaped so the source shows which).
_HOMOGLYPHS = {
    "a": "\u0430", "c": "\u0441", "e": "\u0435", "i": "\u0456", "o": "\u043e", "p": "\u0440",
    "s": "\u0455", "x": "\u0445", "y": "\u0443", "A": "\u0391", "B": "\u0392", "E": "\u0395",
    "H": "\u0397", "K": "\u039a", "M": "\u039c", "O": "\u039f", "P": "\u03a1", "T": "\u03a4",
    "X": "\u03a7",
}
_RATE = 0.3


def _case(text: str, rng: random.Random) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)


def _whitespace(text: str, rng: random.Random) -> str:
    return "".join(rng.choice(("\t", "  ", "+", " \t")) if c == " " else c for c in text)


def _url(text: str, rng: random.Random) -> str:
    return "".join(f"%{ord(c):02X}" if ord(c) < 128 and rng.random() < _RATE and c != "%" else c
                   for c in text)


def _double(text: str, rng: random.Random) -> str:
    encoded = _url(text, rng)
    return encoded.replace("%", "%25")


def _homoglyph(text: str, rng: random.Random) -> str:
    return "".join(_HOMOGLYPHS[c] if c in _HOMOGLYPHS and rng.random() < _RATE else c
                   for c in text)


def _comment(text: str, rng: random.Random) -> str:
    return "".join("/**/" if c == " " and rng.random() < 0.7 else c for c in text)


def _entity(text: str, rng: random.Random) -> str:
    return "".join(f"&#{ord(c)};" if not c.isspace() and rng.random() < _RATE else c
                   for c in text)


def _null(text: str, rng: random.Random) -> str:
    return "".join(c + "%00" if c in " =&/" and rng.random() < 0.5 else c for c in text)


TEXT: dict[str, Callable[[str, random.Random], str]] = {
    "case": _case, "whitespace": _whitespace, "url-encoding": _url,
    "double-encoding": _double, "homoglyph": _homoglyph, "comment-injection": _comment,
    "html-entity": _entity, "null-byte": _null,
}


def perturb_text(family: str, values: list[str], seed: int) -> list[str]:
    """Apply a text family to every value (seeded per family)."""
    rng = random.Random(f"{family}:{seed}")  # noqa: S311 - reproducible test inputs, not crypto
    apply = TEXT[family]
    return [apply(v, rng) for v in values]


def perturb_tabular(values: list[list[float]], scale: float, seed: int) -> list[list[float]]:
    """Bounded Gaussian noise: ``scale`` x column std, clipped to the column's range."""
    rng = random.Random(f"gaussian-noise:{seed}")  # noqa: S311 - reproducible noise
    if not values:
        return []
    columns = list(zip(*values, strict=True))
    stats = []
    for column in columns:
        mean = sum(column) / len(column)
        std = (sum((v - mean) ** 2 for v in column) / len(column)) ** 0.5
        stats.append((std, min(column), max(column)))
    return [[min(hi, max(lo, v + rng.gauss(0.0, scale * std)))
             for v, (std, lo, hi) in zip(row, stats, strict=True)] for row in values]
