"""The command-line face of scanner settings: ``secpipe scan X``'s options, from the fields.

One rule for every scanner, built-in or plugin (stated in :mod:`secpipe.scanners.base`): ``paths``
is the positional ``PATH`` (added by the command), a ``bool`` field is ``--name/--no-name``, an
``int``, ``float`` or ``str`` one ``--name VALUE``, a ``Literal`` of strings ``--name CHOICE``, a
``list[str]`` a repeatable ``--name VALUE``. The help is the field's docstring plus its default;
``json_schema_extra=NOT_ON_CLI`` keeps a field off the command line, and a field of another type
is only set in ``secpipe.yaml``. Option values are kept apart from the command's own options in
the namespace (``setting:NAME``), and only the options given are passed to the model, so a
field's default is the model's, in one place.
"""

from __future__ import annotations

import argparse
import re
import types
from collections.abc import Sequence
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from secpipe.core.errors import ConfigError, InputError
from secpipe.core.step import StepSettings

DEST_PREFIX = "setting:"
"""Namespace attributes holding settings given on the command line."""

_METAVAR = {int: "N", float: "NUMBER", str: "VALUE"}


def _extra(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    return dict(extra) if isinstance(extra, dict) else {}


def _plain(annotation: Any) -> Any:
    """``X`` for ``X | None``; the annotation itself otherwise."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _size(value: int) -> str:
    for shift, unit in ((30, "GiB"), (20, "MiB"), (10, "KiB")):
        if value >= 1 << shift and value % (1 << shift) == 0:
            return f"{value >> shift} {unit}"
    return str(value)


def _help(name: str, info: FieldInfo, kind: Any) -> str:
    text = re.sub(r"\s+", " ", (info.description or "").replace("``", "")).strip().rstrip(".")
    if text[:2].istitle():  # a docstring's sentence, in the lower case of argparse's own help
        text = text[0].lower() + text[1:]
    default = info.get_default(call_default_factory=True)
    if kind is bool:
        shown = "on" if default else "off"
    elif isinstance(default, int) and not isinstance(default, bool) and name.endswith("_bytes"):
        shown = _size(default)
    elif isinstance(default, list | tuple):
        shown = ", ".join(map(str, default)) if default else ""
    else:
        shown = "" if default is None else str(default)
    text = f"{text} (default: {shown})" if shown else text
    return text.replace("%", "%%")  # argparse formats help with %


def add_setting_options(parser: argparse.ArgumentParser, settings: type[StepSettings],
                        owner: str) -> None:
    """Add an option per field of ``settings`` (but ``paths``) to ``parser``. An option that
    clashes with one the command already has is a :class:`ConfigError` naming ``owner``."""
    for name, info in settings.model_fields.items():
        extra = _extra(info)
        if name == "paths" or extra.get("cli") is False:
            continue
        kind = _plain(info.annotation)
        flag = "--" + name.replace("_", "-")
        common: dict[str, Any] = {"dest": DEST_PREFIX + name, "default": argparse.SUPPRESS,
                                  "help": _help(name, info, kind)}
        metavar = extra.get("metavar")
        try:
            if kind is bool:
                parser.add_argument(flag, action=argparse.BooleanOptionalAction, **common)
            elif kind in (int, float, str):
                parser.add_argument(flag, type=kind, metavar=metavar or _METAVAR[kind], **common)
            elif get_origin(kind) is Literal and all(isinstance(a, str) for a in get_args(kind)):
                parser.add_argument(flag, choices=get_args(kind), **common)
            elif get_origin(kind) is list and get_args(kind) == (str,):
                parser.add_argument(flag, action="append", metavar=metavar or "VALUE", **common)
        except argparse.ArgumentError:
            raise ConfigError(
                f"{owner}: setting {name!r} clashes with the command's option {flag}",
                hint="give the field json_schema_extra=NOT_ON_CLI "
                     "(secpipe.scanners.base), or rename it") from None


def settings_from_args(settings: type[StepSettings], args: argparse.Namespace,
                       paths: Sequence[str], where: str) -> StepSettings:
    """The settings the options given (and ``paths``) describe; a bad value is an
    :class:`InputError` naming its option."""
    data: dict[str, Any] = {key.removeprefix(DEST_PREFIX): value
                            for key, value in vars(args).items() if key.startswith(DEST_PREFIX)}
    data["paths"] = list(paths)
    try:
        return settings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            option = "PATH" if field == "paths" else "--" + field.replace("_", "-")
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{option}: {msg}" if field else msg)
        raise InputError(f"{where}: " + "; ".join(problems)) from None
