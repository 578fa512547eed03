"""A small SVG writer for the evaluation plots (no plotting library needed).

The files are standalone (``xmlns`` set, no scripts, no external references, every text escaped),
so the HTML report can inline them as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

_FONT = "font-family=\"sans-serif\" font-size=\"12\""
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")


def _text(x: float, y: float, text: str, anchor: str = "middle", extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {_FONT} {extra}>'
            f"{escape(text)}</text>")


def _document(width: int, height: int, title: str, body: list[str]) -> str:
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">',
        f"<title>{escape(title)}</title>",
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        *body,
        "</svg>",
        "",
    ])


def _short(label: str, limit: int = 14) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def confusion_svg(labels: Sequence[str], matrix: Sequence[Sequence[int]],
                  title: str = "Confusion matrix") -> str:
    """A heat map: rows are true classes, columns predicted ones, each cell with its count."""
    n = max(1, len(labels))
    cell = max(28, min(60, 480 // n))
    left, top = 120, 60
    width, height = left + n * cell + 20, top + n * cell + 70
    peak = float(max((max(row) for row in matrix if row), default=0) or 1)
    body = [_text(width / 2, 22, title, extra='font-weight="bold"')]
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            shade = count / peak
            level = int(255 - 200 * shade)
            fill = f"rgb({level},{level},255)"
            x, y = left + j * cell, top + i * cell
            body.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}" '
                        'stroke="#ffffff"/>')
            color = "#ffffff" if shade > 0.6 else "#000000"
            body.append(_text(x + cell / 2, y + cell / 2 + 4, str(count),
                              extra=f'fill="{color}"'))
    for k, label in enumerate(labels):
        body.append(_text(left - 6, top + k * cell + cell / 2 + 4, _short(label), "end"))
        lx = left + k * cell + cell / 2
        ly = top + n * cell + 14
        body.append(_text(lx, ly, _short(label), "end",
                          extra=f'transform="rotate(-35 {lx:.1f} {ly:.1f})"'))
    body.append(_text(14, top + n * cell / 2, "true", extra=(
        f'transform="rotate(-90 14 {top + n * cell / 2:.1f})"')))
    body.append(_text(left + n * cell / 2, top - 10, "predicted"))
    return _document(width, height, title, body)


def _thin(points: Sequence[tuple[float, float]], limit: int = 400) -> list[tuple[float, float]]:
    if len(points) <= limit:
        return list(points)
    step = len(points) / limit
    kept = [points[int(i * step)] for i in range(limit)]
    return [*kept, points[-1]]


def roc_svg(curves: dict[str, tuple[Sequence[float], Sequence[float], float]],
            title: str = "ROC curves (one-vs-rest)") -> str:
    """One ROC curve per class, with the chance diagonal and an AUC legend."""
    size, left, top = 320, 50, 40
    legend_rows = len(curves)
    width, height = left + size + 200, top + size + 50 + max(0, legend_rows - 12) * 16

    def px(fpr: float, tpr: float) -> str:
        return f"{left + fpr * size:.1f},{top + (1 - tpr) * size:.1f}"

    body = [_text(width / 2, 22, title, extra='font-weight="bold"'),
            f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" '
            'stroke="#333333"/>',
            f'<polyline points="{px(0, 0)} {px(1, 1)}" fill="none" stroke="#999999" '
            'stroke-dasharray="4 4"/>']
    for tick in (0.0, 0.5, 1.0):
        body.append(_text(left + tick * size, top + size + 16, f"{tick:g}"))
        body.append(_text(left - 6, top + (1 - tick) * size + 4, f"{tick:g}", "end"))
    body.append(_text(left + size / 2, top + size + 34, "false positive rate"))
    body.append(_text(14, top + size / 2, "true positive rate",
                      extra=f'transform="rotate(-90 14 {top + size / 2:.1f})"'))
    for k, (label, (fpr, tpr, auc)) in enumerate(sorted(curves.items())):
        color = _PALETTE[k % len(_PALETTE)]
        points = " ".join(px(a, b) for a, b in _thin(list(zip(fpr, tpr, strict=True))))
        body.append(f'<polyline points="{points}" fill="none" stroke="{color}" '
                    'stroke-width="2"/>')
        y = top + 10 + k * 16
        body.append(f'<rect x="{left + size + 14}" y="{y - 9}" width="10" height="10" '
                    f'fill="{color}"/>')
        body.append(_text(left + size + 30, y, f"{_short(label, 18)} (AUC {auc:.3f})", "start"))
    return _document(width, height, title, body)
