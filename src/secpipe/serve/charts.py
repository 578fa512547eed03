"""Inline SVG line charts: no script, no external resource, every label escaped.

A chart is an ``<svg>`` element put straight into the page (:mod:`secpipe.serve.markup` builds
it, so a run id or metric name in a label or tooltip is text). Each point carries a ``<title>``,
which browsers show as a tooltip without any script.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from secpipe.serve.markup import Markup, tag

WIDTH = 720
HEIGHT = 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 48, 16, 34
#: series colours: severities by name, others in turn
COLORS = {"critical": "#7a0019", "high": "#c62828", "medium": "#d97706", "low": "#2f6fb3",
          "info": "#6b7480"}
_CYCLE = ("#2f6fb3", "#2e7d32", "#c62828", "#7b1fa2", "#d97706", "#00838f")


def _fmt(value: float) -> str:
    if abs(value) >= 10_000:
        return f"{value:,.0f}"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}"


def _scale(values: Sequence[float]) -> tuple[float, float]:
    """A y range covering ``values``; a flat series gets some room around it."""
    low, high = min(values), max(values)
    if math.isclose(low, high):
        pad = abs(high) * 0.1 or 1.0
        return low - pad, high + pad
    return low, high


def line_chart(title: str, labels: Sequence[str], series: Mapping[str, Sequence[float | None]],
               *, ticks: Sequence[str] | None = None, start_at_zero: bool = True) -> Markup:
    """An SVG chart of one line per series over ``labels`` (one x position each, named in the
    points' tooltips; ``ticks`` are the shorter x-axis texts); a ``None`` value leaves a gap.
    ``title`` names the chart for screen readers."""
    n = len(labels)
    ticks = labels if ticks is None else ticks
    plotted = [v for vals in series.values() for v in vals if v is not None and math.isfinite(v)]
    if n == 0 or not plotted:
        return tag("p", "No data to chart yet.", class_="muted")
    low, high = (0.0, max(max(plotted), 1.0)) if start_at_zero else _scale(plotted)
    if math.isclose(low, high):
        high = low + 1.0
    inner_w = WIDTH - _LEFT - _RIGHT
    inner_h = HEIGHT - _TOP - _BOTTOM

    def x(i: int) -> float:
        return _LEFT + (inner_w / 2 if n == 1 else inner_w * i / (n - 1))

    def y(v: float) -> float:
        return _TOP + inner_h * (1 - (v - low) / (high - low))

    parts: list[Markup] = [tag("title", title)]
    for frac in (0.0, 0.5, 1.0):  # grid lines and y labels
        value = low + (high - low) * frac
        yy = y(value)
        parts.append(tag("line", x1=_LEFT, x2=WIDTH - _RIGHT, y1=f"{yy:.1f}", y2=f"{yy:.1f}",
                         class_="grid"))
        parts.append(tag("text", _fmt(round(value, 4)), x=_LEFT - 6, y=f"{yy + 4:.1f}",
                         text_anchor="end", class_="axis"))
    step = max(1, math.ceil(n / 8))  # at most ~8 x labels
    for i in range(0, n, step):
        parts.append(tag("text", ticks[i][:16], x=f"{x(i):.1f}", y=HEIGHT - _BOTTOM + 16,
                         text_anchor="middle", class_="axis"))
    for k, (name, values) in enumerate(series.items()):
        color = COLORS.get(name, _CYCLE[k % len(_CYCLE)])
        segment: list[str] = []
        segments: list[list[str]] = []
        points: list[Markup] = []
        for i, v in enumerate(values[:n]):
            if v is None or not math.isfinite(v):
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{x(i):.1f},{y(v):.1f}")
            points.append(tag("circle", tag("title", f"{labels[i]}: {name} = {_fmt(v)}"),
                              cx=f"{x(i):.1f}", cy=f"{y(v):.1f}", r=3, fill=color))
        if segment:
            segments.append(segment)
        for seg in segments:
            parts.append(tag("polyline", points=" ".join(seg), fill="none", stroke=color,
                             stroke_width=2))
        parts.extend(points)
    legend = [tag("span", _swatch(COLORS.get(name, _CYCLE[k % len(_CYCLE)])), name,
                  class_="legend-item")
              for k, name in enumerate(series)]
    svg = tag("svg", *parts, xmlns="http://www.w3.org/2000/svg", viewBox=f"0 0 {WIDTH} {HEIGHT}",
              width=WIDTH, height=HEIGHT, role="img", aria_label=title, class_="chart")
    return tag("figure", svg, tag("figcaption", tag("b", title), " ", *legend), class_="chart-box")


def _swatch(color: str) -> Markup:
    """A small coloured square (an SVG: the page's CSP allows no inline style)."""
    return tag("svg", tag("rect", width=10, height=10, fill=color), width=10, height=10,
               class_="swatch", aria_hidden="true")
