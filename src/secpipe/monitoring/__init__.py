"""Files shipped for monitoring secpipe's metrics (the ``prometheus`` sink's series).

- ``alerts.yml``: Prometheus alerting rules (gate failed, run errored, pipeline silent, no passing
  run, push refused by the Pushgateway, series dropped by the sink's bounds);
- ``prometheus.example.yml`` and ``alertmanager.example.yml``: example configurations;
- ``grafana/secpipe-dashboard.json`` (uid ``secpipe-overview``) and ``grafana/provisioning/``.

They are package data: :func:`asset` gives the path of one inside the installed package.
"""

from __future__ import annotations

from pathlib import Path

ASSETS: tuple[str, ...] = (
    "alerts.yml",
    "prometheus.example.yml",
    "alertmanager.example.yml",
    "grafana/secpipe-dashboard.json",
    "grafana/provisioning/dashboards/secpipe.yml",
    "grafana/provisioning/datasources/prometheus.yml",
)
"""Every shipped monitoring file, relative to this package."""
DASHBOARD_UID = "secpipe-overview"
"""The Grafana dashboard's pinned uid."""


def asset(name: str) -> Path:
    """The path of shipped file ``name`` (one of :data:`ASSETS`); ``KeyError`` otherwise."""
    if name not in ASSETS:
        raise KeyError(f"{name!r} is not a shipped monitoring file (known: {', '.join(ASSETS)})")
    return Path(__file__).resolve().parent / name
