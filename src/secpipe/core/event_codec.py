"""Events to JSON-ready dicts and back: what the sink spool writes and ``notify replay`` reads.

:meth:`Event.to_dict` gives the dict (the same shape a webhook receives); :func:`event_from_dict`
makes the typed event again, field by field against the event class's type hints, so a spooled
event is replayed as the very event the run emitted. Input is untrusted (a file on disk): only
the known event types are made, each value is checked against its field's type, keys the class
does not have are ignored (a newer secpipe's extra fields) and a missing required field is an
:class:`EventDecodeError`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any

from secpipe.core.events import EVENT_TYPES, Event

_BY_TYPE: dict[str, type[Event]] = {cls.type: cls for cls in EVENT_TYPES}


class EventDecodeError(ValueError):
    """A dict that is not a valid event; the message names the field, never its value."""


def event_to_dict(event: Event) -> dict[str, Any]:
    """``event.to_dict()``: the dataclass fields plus ``type`` (JSON-ready after ``json.dumps``
    with tuples as lists)."""
    return event.to_dict()


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """The typed event ``data`` describes (the inverse of :meth:`Event.to_dict`)."""
    if not isinstance(data, Mapping):
        raise EventDecodeError("an event must be a JSON object")
    name = data.get("type")
    cls = _BY_TYPE.get(name) if isinstance(name, str) else None
    if cls is None:
        raise EventDecodeError("unknown event type")
    return typing.cast(Event, _build(cls, data, name or "event"))


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise EventDecodeError(f"{where}: expected an object")
    hints = _hints(cls)
    positional: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise EventDecodeError(f"{where}.{f.name}: missing")
            continue
        positional[f.name] = _convert(hints[f.name], data[f.name], f"{where}.{f.name}")
    try:
        return cls(**positional)
    except (TypeError, ValueError) as exc:
        raise EventDecodeError(f"{where}: {type(exc).__name__}") from None


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, where)
            except EventDecodeError as exc:
                errors.append(exc)
        raise errors[0] if errors else EventDecodeError(f"{where}: unexpected null")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise EventDecodeError(f"{where}: expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise EventDecodeError(f"{where}: expected {len(args)} items")
        return tuple(_convert(a, v, f"{where}[{i}]")
                     for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin in (Mapping, dict, typing.Mapping):
        if not isinstance(value, Mapping):
            raise EventDecodeError(f"{where}: expected an object")
        key_t, value_t = args or (str, Any)
        return {_convert(key_t, k, where): _convert(value_t, v, f"{where}.{k}")
                for k, v in value.items()}
    if hint is Any:
        return value
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise EventDecodeError(f"{where}: expected a number")
        return float(value)
    if hint in (int, str, bool):
        if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
            raise EventDecodeError(f"{where}: expected {hint.__name__}")
        return value
    raise EventDecodeError(f"{where}: unsupported field type")
