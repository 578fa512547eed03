"""Turning pydantic validation errors into one-line diagnostics that name the key (and its line).

Kept free of heavy imports: ``secpipe scan`` uses it without loading the pipeline machinery.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

from pydantic import AliasChoices, AliasPath, BaseModel, ValidationError
from pydantic_core import ErrorDetails

from secpipe.core.errors import ConfigError, MissingExtra
from secpipe.core.registry import load_kind
from secpipe.core.step import StepKind, StepSettings

__all__ = ["LineOf", "format_validation_error", "validate_defaults", "validate_settings"]

Loc = tuple[Hashable, ...]
"""A key path: mapping keys and list indices from the top of the file."""
LineOf = Callable[[Loc], "int | None"]
"""Where a key path is written in the file (``YamlDocument.line_of``), ``None`` when unknown."""


def format_loc(loc: Loc) -> str:
    """``("policy", "max", 0)`` as ``policy.max[0]`` (as :mod:`secpipe.core.safeload` writes it;
    not imported from there, which would load PyYAML into ``secpipe scan``)."""
    text = ".".join(f"[{p}]" if isinstance(p, int) and not isinstance(p, bool) else str(p)
                    for p in loc)
    return text.replace(".[", "[")


def _where(source: str, loc: Loc, line_of: LineOf | None) -> str:
    line = line_of(loc) if line_of is not None else None
    return f"{source}: line {line}" if line is not None else source


def _format(source: str, errors: Iterable[ErrorDetails], prefix: Loc = (),
            line_of: LineOf | None = None) -> str:
    lines = []
    for err in errors:
        loc = (*prefix, *err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        msg = " ".join(msg.split("\n"))
        lines.append(f"{_where(source, loc, line_of)}: {format_loc(loc) or '(top level)'}: {msg}")
    return "; ".join(lines)


def format_validation_error(source: str, exc: ValidationError,
                            line_of: LineOf | None = None) -> str:
    """One line per problem, each naming the key path: ``secpipe.yaml: policy.fail_on: …``, with
    ``line N`` after the file when ``line_of`` knows where the key is written."""
    return _format(source, exc.errors(), (), line_of)


def validate_settings(kind: type[StepKind[Any]], data: Mapping[str, Any],
                      where: str) -> StepSettings:
    try:
        return kind.Settings.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(f"{where}.with", exc)) from None


def _accepted_keys(model: type[BaseModel]) -> set[str]:
    """Every key the model reads: field names, aliases and alias choices."""
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        keys.add(name)
        aliases: list[Any] = [info.alias, info.validation_alias]
        if isinstance(info.validation_alias, AliasChoices):
            aliases.extend(info.validation_alias.choices)
        for alias in aliases:
            if isinstance(alias, str):
                keys.add(alias)
            elif isinstance(alias, AliasPath) and isinstance(alias.path[0], str):
                keys.add(alias.path[0])
    return keys


def validate_defaults(defaults: Mapping[str, Mapping[str, Any]], source: str,
                      line_of: LineOf | None = None) -> None:
    """``defaults:``: each key must be a known step kind (built in or a plugin) and each setting
    one that kind knows, with a valid value. What only a whole step can tell (a required
    setting, one that needs another) is checked when a step of the kind is planned."""
    for kind_name, values in defaults.items():
        prefix: Loc = ("defaults", kind_name)
        try:
            kind = load_kind(kind_name, check_extra=False)
        except MissingExtra:
            continue  # settings for a kind this install cannot run: checked where it can
        except ConfigError as exc:
            raise ConfigError(f"{_where(source, prefix, line_of)}: {format_loc(prefix)}: "
                              f"{exc.message}", hint=exc.hint) from None
        try:
            kind.Settings.model_validate(dict(values))
        except ValidationError as exc:
            # A model-wide error (empty loc) is about the partial mapping unless a key is
            # unknown: then it comes from a "before" validator (a renamed key), as "after"
            # validators do not run on input with an unknown key.
            unknown = not set(values) <= _accepted_keys(kind.Settings)
            errors = [e for e in exc.errors()
                      if e["type"] != "missing" and (e["loc"] or unknown)]
            if errors:
                raise ConfigError(_format(source, errors, prefix, line_of)) from None
