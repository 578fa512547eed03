"""Metric bounds such as ``accuracy >= 0.8`` and their evaluation."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
_BOUND = re.compile(
    r"^\s*([A-Za-z_][\w.\-]*)\s*(>=|<=|==|!=|>|<)\s*"
    r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*$"
)


@dataclass(frozen=True)
class MetricBound:
    """A parsed bound: ``name op value``."""

    name: str
    """Metric name (``accuracy`` or ``step-id.accuracy``)."""
    op: str
    """Comparison operator."""
    value: float
    """Threshold."""

    @classmethod
    def parse(cls, text: str) -> MetricBound:
        match = _BOUND.match(text)
        if not match:
            raise ValueError(
                f"bad metric bound {text!r}: write it as 'name OP number', e.g. 'accuracy >= 0.8'"
            )
        return cls(match.group(1), match.group(2), float(match.group(3)))

    def check(self, metrics: Mapping[str, float]) -> tuple[bool, str]:
        """Return (passed, one-line explanation). A missing or NaN metric fails."""
        if self.name not in metrics:
            return False, f"metric {self.name} was not measured (bound {self})"
        actual = metrics[self.name]
        if math.isnan(actual):
            return False, f"metric {self.name} is NaN (bound {self})"
        ok = _OPS[self.op](actual, self.value)
        verdict = "ok" if ok else "failed"
        return ok, f"metric {self.name} = {actual:.4g} ({verdict}: needs {self.op} {self.value:g})"

    def __str__(self) -> str:
        return f"{self.name} {self.op} {self.value:g}"
