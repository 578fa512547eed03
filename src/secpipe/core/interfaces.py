"""Services the runner hands to a step through its :class:`~secpipe.core.step.StepContext`.

``core`` owns these protocols; the implementations live in their own packages
(:class:`secpipe.keys.refs.SecretResolver`, :class:`secpipe.runstore.RunStore`), so a step never
imports them to reach its run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Secrets(Protocol):
    """Resolves secret references (``${env:…}``, ``${vault:…}``) and redacts what it handed out."""

    def resolve(self, value: str, what: str = "setting") -> str:
        """``value`` with every reference replaced; errors name ``what``, never a value."""

    def resolve_optional(self, value: str | None, what: str = "setting") -> str | None:
        """:meth:`resolve`, passing ``None`` through."""

    def resolve_all(self, value: Any, what: str = "settings", _depth: int = 0) -> Any:
        """Resolve references inside nested lists and mappings."""

    def redact(self, text: str) -> str:
        """``text`` with every value handed out so far replaced by ``***``."""


class RunHistory(Protocol):
    """Read-only questions about earlier runs of the project (never about the current run: the
    current run's steps are in ``StepContext.earlier``)."""

    def last_passed_metrics(self, pipeline: str, *, exclude_run: str, step_id: str,
                            kind: str) -> tuple[str, Mapping[str, float]]:
        """(run id, metrics) of the newest passed run of ``pipeline`` other than ``exclude_run``:
        of the step ``step_id`` when it ran there, else of a step of the same ``kind``;
        ``("", {})`` when there is none."""
