"""``sinks:`` in secpipe.yaml: loaded, validated with errors that name the key, built."""

from __future__ import annotations

from pathlib import Path

import pytest

from secpipe.core.errors import ConfigError
from secpipe.keys.refs import SecretResolver
from secpipe.pipeline.config import Project, load_project
from secpipe.sinks import build_sinks, validate_sinks
from secpipe.sinks.webhook import WebhookSettings, WebhookSink

GOOD = """\
sink_drain_seconds: 3
sinks:
  alerts:
    uses: webhook
    with:
      url: https://hooks.example.com/secpipe
      headers: {Authorization: "Bearer ${env:HOOK_TOKEN}"}
      events: ["gate.decided", "run.finished", "step.finished"]
      min_severity: high
      retries: 2
"""


def _load(project: Path, text: str) -> Project:
    (project / "secpipe.yaml").write_text(text)
    return load_project(project)


def test_configured_sinks_are_built(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "-".join(["t0ken", "value", "1234"]))  # built, not a literal
    proj = _load(project, GOOD)
    assert proj.config.sink_drain_seconds == 3
    sinks = build_sinks(proj.config, proj.root, SecretResolver(proj.root))
    assert len(sinks) == 1
    sink = sinks[0]
    assert isinstance(sink, WebhookSink) and sink.name == "alerts"
    assert isinstance(sink.settings, WebhookSettings)
    assert sink.settings.min_severity is not None and sink.settings.min_severity.value == "high"
    assert sink.settings.retries == 2


def test_no_sinks_by_default(project: Path) -> None:
    proj = load_project(project)
    assert proj.config.sinks == {} and proj.config.sink_drain_seconds == 10
    assert build_sinks(proj.config, proj.root, SecretResolver(proj.root)) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sinks: {a: {uses: webhook, with: {urll: 'https://h'}}}",
         "secpipe.yaml: sinks.a.with: url: Field required; "
         "secpipe.yaml: sinks.a.with: urll: unknown key"),
        ("sinks: {a: {uses: webhook, with: {url: 'ftp://h'}}}",
         "secpipe.yaml: sinks.a.with: url: must be an http:// or https:// URL"),
        ("sinks: {a: {uses: webhook, with: {url: 'https://h', events: [step.finshed]}}}",
         "secpipe.yaml: sinks.a.with: events: 'step.finshed' matches no event type"),
        ("sinks: {a: {uses: webhook, with: {url: 'https://h', min_severity: severe}}}",
         "secpipe.yaml: sinks.a.with: min_severity: unknown severity 'severe'"),
        ("sinks: {a: {uses: webhook, with: {url: 'https://h', retries: 99}}}",
         "secpipe.yaml: sinks.a.with: retries: Input should be less than or equal to 10"),
        ("sinks: {a: {uses: slak}}", "secpipe.yaml: sinks.a.uses: unknown sink kind 'slak'"),
        ("sinks: {a: {uses: console}}", "secpipe.yaml: sinks.a.uses: sink kind 'console' "
                                        "cannot be configured"),
    ],
)
def test_sink_settings_errors_name_the_key(project: Path, text: str, expected: str) -> None:
    config = _load(project, text).config  # the file is well-formed; its sinks are checked here
    with pytest.raises(ConfigError) as info:
        validate_sinks(config.sinks)
    assert expected in info.value.message
    assert "\n" not in info.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sinks: {a: {uses: webhook, wiht: {}}}", "sinks.a.wiht: unknown key"),
        ("sinks: {a: {with: {}}}", "sinks.a.uses: Field required"),
        ("sinks: {Alerts!: {uses: webhook}}", "sink name 'Alerts!'"),
        ("sink_drain_seconds: -1", "sink_drain_seconds: Input should be greater than or equal"),
    ],
)
def test_sink_entries_errors_name_the_key(project: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(project, text)
    assert expected in info.value.message


def test_a_missing_secret_is_a_config_error_before_the_run(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOOK_TOKEN", raising=False)
    proj = _load(project, GOOD)
    with pytest.raises(ConfigError) as info:
        build_sinks(proj.config, proj.root, SecretResolver(proj.root))
    assert info.value.message == (
        "secpipe.yaml: sinks.alerts: with.headers.Authorization: secret reference "
        "${env:HOOK_TOKEN} did not resolve: environment variable HOOK_TOKEN is not set")
