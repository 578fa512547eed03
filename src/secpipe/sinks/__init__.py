"""Sinks: where a run's events go (the console, webhooks; Slack, Prometheus … later).

Architecture (``docs/sinks.md`` has the whole design):

* :mod:`secpipe.sinks.interface` — :class:`Sink` (``kind``, a ``Settings`` model, ``deliver``,
  ``close``), :class:`SinkSettings` (the keys every sink has: ``events``, ``min_severity``,
  ``retries``, ``backoff``, ``timeout``), :class:`SinkContext` and :class:`SinkError`.
* :mod:`secpipe.sinks.registry` — :data:`~secpipe.sinks.registry.BUILTIN_SINKS` plus the
  ``secpipe.sinks`` entry-point group; :func:`build_sinks` makes a project's configured sinks
  (``secpipe.yaml`` ``sinks:``) and :func:`validate_sinks` checks them without starting any.
* :mod:`secpipe.sinks.bus` — :class:`SinkBus`, the runner's
  :class:`~secpipe.core.events.Emitter`: one bounded queue and delivery thread per sink,
  retries with backoff, a bounded wait at the end of the run, bounded failure lines.
* one module per sink kind: :mod:`secpipe.sinks.webhook`. The console sink is the CLI's
  (:class:`secpipe.cli.render.ConsoleSink`) and is not configurable from ``secpipe.yaml``.

Public surface: the names below.
"""

from secpipe.sinks.bus import SinkBus
from secpipe.sinks.interface import Sink, SinkContext, SinkError, SinkSettings
from secpipe.sinks.registry import build_sinks, load_sink, validate_sinks

__all__ = ["Sink", "SinkBus", "SinkContext", "SinkError", "SinkSettings", "build_sinks",
           "load_sink", "validate_sinks"]
