"""Helpers of the code scanner's engine tests: the step runner's type, notebooks built here."""

from __future__ import annotations

import json
from collections.abc import Callable

from secpipe.core.results import StepResult

RunCode = Callable[..., StepResult]
"""``run_code(root, ctx=None, **settings)``: the ``run_code`` fixture."""


def notebook(cells: list[tuple[str, str]], language: str = "python") -> str:
    """A Jupyter notebook (nbformat 4) with the (cell_type, source) cells given."""
    return json.dumps({
        "cells": [{"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True),
                   **({"outputs": [], "execution_count": None} if kind == "code" else {})}
                  for kind, text in cells],
        "metadata": {"kernelspec": {"name": "k", "display_name": "k", "language": language}},
        "nbformat": 4, "nbformat_minor": 5,
    })
