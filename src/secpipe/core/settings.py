"""The base of every step's ``with:`` settings (:class:`StepSettings`, a pydantic model).

Kept apart from the rest of the step interface (:mod:`secpipe.core.step`, which re-exports it
under the same name) so that what only needs a :class:`~secpipe.core.step.StepContext` or a
:class:`~secpipe.core.step.StepKind` (the crash guard, the registry, ``secpipe scan models FILE``)
does not pay for importing pydantic.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StepSettings(BaseModel):
    """Base of every step's ``with:`` settings: unknown keys are errors; a field's docstring is
    its description (``secpipe scan --help`` shows it)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
