"""The explicit registry of sink kinds, and building a project's sinks from ``secpipe.yaml``.

Built-in kinds are listed in :data:`BUILTIN_SINKS` by name next to the module that implements
them; a module is imported only when a project uses its kind. Third-party kinds come from the
``secpipe.sinks`` entry-point group of *installed* packages. ``secpipe.yaml`` names a kind
(``uses: webhook``), never a module, so a configuration file cannot load code.

``console`` is not in the registry: the CLI makes its :class:`~secpipe.cli.render.ConsoleSink`
itself (``--quiet`` silences it), so a project cannot configure a second one.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from secpipe.core.errors import ConfigError, SecpipeError
from secpipe.core.interfaces import Secrets
from secpipe.pipeline.validation import format_validation_error
from secpipe.sinks.interface import Sink, SinkContext, SinkSettings

if TYPE_CHECKING:
    from secpipe.pipeline.model import ProjectConfig, SinkSpec

ENTRY_POINT_GROUP = "secpipe.sinks"

#: kind name -> (module, class). Keep sorted; ``tests/sinks/test_registry.py`` checks every entry.
BUILTIN_SINKS: dict[str, tuple[str, str]] = {
    "defectdojo": ("secpipe.sinks.defectdojo", "DefectDojoSink"),
    "ecs-log": ("secpipe.sinks.ecs", "EcsLogSink"),
    "elasticsearch": ("secpipe.sinks.ecs", "ElasticsearchSink"),
    "faraday": ("secpipe.sinks.faraday", "FaradaySink"),
    "pagerduty": ("secpipe.sinks.pagerduty", "PagerDutySink"),
    "prometheus": ("secpipe.sinks.prometheus", "PrometheusSink"),
    "slack": ("secpipe.sinks.slack", "SlackSink"),
    "telegram": ("secpipe.sinks.telegram", "TelegramSink"),
    "webhook": ("secpipe.sinks.webhook", "WebhookSink"),
}

RESERVED: dict[str, str] = {
    "console": "the console is the CLI's own output (silence it with --quiet)",
}
"""Kind names a project cannot configure, with the reason."""


def builtin_sinks() -> list[str]:
    """Names of the built-in sink kinds."""
    return sorted(BUILTIN_SINKS)


def _third_party() -> dict[str, Any]:
    from importlib.metadata import entry_points  # slow to import; only needed for plugins

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_sinks() -> list[str]:
    """Built-in plus installed third-party sink kinds."""
    return sorted((set(BUILTIN_SINKS) | set(_third_party())) - set(RESERVED))


def load_sink(name: str) -> type[Sink[Any]]:
    """The class of a sink kind; :class:`ConfigError` names an unknown or broken one."""
    if name in RESERVED:
        raise ConfigError(f"sink kind {name!r} cannot be configured: {RESERVED[name]}")
    if name in BUILTIN_SINKS:
        module_name, attr = BUILTIN_SINKS[name]
        cls = getattr(importlib.import_module(module_name), attr)
    else:
        ep = _third_party().get(name)
        if ep is None:
            raise ConfigError(f"unknown sink kind {name!r}",
                              hint="known sink kinds: " + ", ".join(available_sinks()))
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plugin must not look like an unknown kind
            raise ConfigError(
                f"sink kind {name!r} from an installed plugin failed to load: "
                f"{type(exc).__name__}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Sink)
            and issubclass(cls.Settings, SinkSettings)):
        raise ConfigError(f"sink kind {name!r} does not implement secpipe.sinks.interface.Sink")
    return cls


def validate_sinks(specs: Mapping[str, SinkSpec], source: str = "secpipe.yaml",
                   ) -> dict[str, tuple[type[Sink[Any]], SinkSettings]]:
    """Load each configured sink's kind and validate its ``with:``; errors name the key
    (``secpipe.yaml: sinks.alerts.with: url: Field required``). Resolves no secret."""
    out: dict[str, tuple[type[Sink[Any]], SinkSettings]] = {}
    for name, spec in specs.items():
        where = f"{source}: sinks.{name}"
        try:
            cls = load_sink(spec.uses)
        except ConfigError as exc:
            raise ConfigError(f"{where}.uses: {exc.message}", hint=exc.hint) from None
        try:
            settings = cls.Settings.model_validate(dict(spec.with_))
        except ValidationError as exc:
            raise ConfigError(format_validation_error(f"{where}.with", exc)) from None
        out[name] = (cls, settings)
    return out


def build_sinks(config: ProjectConfig, project_root: Path, secrets: Secrets,
                source: str = "secpipe.yaml") -> list[Sink[Any]]:
    """The project's configured sinks (``sinks:``), in file order, ready for a
    :class:`~secpipe.sinks.bus.SinkBus`. Secret references in settings are resolved here, so a
    missing secret or a sink that cannot start is a :class:`ConfigError` before the run starts."""
    sinks: list[Sink[Any]] = []
    for name, (cls, settings) in validate_sinks(config.sinks, source).items():
        context = SinkContext(name=name, project_root=project_root, secrets=secrets)
        try:
            sinks.append(cls(settings, context))
        except SecpipeError as exc:
            raise ConfigError(f"{source}: sinks.{name}: {secrets.redact(exc.message)}",
                              hint=exc.hint) from None
        except Exception as exc:  # a plugin's bug is reported, not a traceback
            detail = secrets.redact(f"{type(exc).__name__}: {exc}")
            raise ConfigError(f"{source}: sinks.{name}: sink kind {cls.kind!r} failed to start: "
                              f"{detail}") from None
    return sinks
