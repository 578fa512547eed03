"""Turning pydantic validation errors into one-line diagnostics that name the key.

Kept free of heavy imports: ``secpipe scan`` uses it without loading the pipeline machinery.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from secpipe.core.errors import ConfigError
from secpipe.core.step import StepKind, StepSettings

__all__ = ["format_validation_error", "validate_settings"]


def format_validation_error(source: str, exc: ValidationError) -> str:
    """One line per problem, each naming the key path: ``secpipe.yaml: policy.fail_on: …``."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in err["loc"])
        loc = loc.replace(".[", "[")
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        lines.append(f"{source}: {loc or '(top level)'}: {msg}")
    return "; ".join(lines)


def validate_settings(kind: type[StepKind[Any]], data: Mapping[str, Any],
                      where: str) -> StepSettings:
    try:
        return kind.Settings.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(f"{where}.with", exc)) from None
