"""The sink registry covers every built-in kind; third-party kinds come from entry points."""

from __future__ import annotations

from pathlib import Path

import pytest

from secpipe.core.errors import ConfigError
from secpipe.keys.refs import SecretResolver
from secpipe.pipeline.model import ProjectConfig
from secpipe.sinks import Sink, SinkBus, SinkSettings, build_sinks, registry
from secpipe.sinks.interface import DEFAULT_EVENTS


@pytest.mark.parametrize("name", sorted(registry.BUILTIN_SINKS))
def test_every_builtin_sink_loads(name: str) -> None:
    cls = registry.load_sink(name)
    assert issubclass(cls, Sink)
    assert cls.kind == name
    assert cls.summary, f"{name} needs a one-line summary"
    assert issubclass(cls.Settings, SinkSettings)
    assert cls.Settings.model_config.get("extra") == "forbid"
    assert cls.Settings.model_config.get("frozen") is True


def test_registry_is_sorted_and_never_offers_the_console() -> None:
    assert list(registry.BUILTIN_SINKS) == sorted(registry.BUILTIN_SINKS)
    assert "console" not in registry.available_sinks()
    with pytest.raises(ConfigError, match="cannot be configured: the console is the CLI's"):
        registry.load_sink("console")


def test_unknown_sink_names_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        registry.load_sink("carrier-pigeon")
    assert "unknown sink kind 'carrier-pigeon'" in info.value.message
    assert info.value.hint is not None and "webhook" in info.value.hint


def _install(site: Path, dist: str, entry: str, module: str | None, source: str = "") -> None:
    """An installed distribution: a module and a .dist-info holding entry_points.txt."""
    site.mkdir(parents=True, exist_ok=True)
    if module is not None:
        (site / f"{module}.py").write_text(source)
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[secpipe.sinks]\n{entry}\n")


PLUGIN = '''
from secpipe.sinks.interface import Sink, SinkSettings

class PagerSettings(SinkSettings):
    channel: str

class PagerSink(Sink[PagerSettings]):
    kind = "pager"
    summary = "pages someone (test plugin)"
    Settings = PagerSettings
    received = []

    def deliver(self, event):
        PagerSink.received.append((self.name, self.settings.channel, event.type))
'''


def test_third_party_sink_from_an_installed_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install(tmp_path / "site", "acme-pager", "pager = acme_pager:PagerSink", "acme_pager",
             PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert "pager" in registry.available_sinks()
    config = ProjectConfig.model_validate(
        {"sinks": {"oncall": {"uses": "pager", "with": {"channel": "#sec",
                                                        "events": ["run.*"]}}}})
    sinks = build_sinks(config, tmp_path, SecretResolver(tmp_path))
    assert [(s.name, s.kind) for s in sinks] == [("oncall", "pager")]
    bus = SinkBus(sinks)
    from sink_helpers import run_events

    for event in run_events():
        bus.emit(event)
    bus.close(5)
    received = type(sinks[0]).received  # type: ignore[attr-defined]
    assert received == [("oncall", "#sec", "run.started"), ("oncall", "#sec", "run.finished")]
    with pytest.raises(ConfigError, match=r"sinks.oncall.with: channel: Field required"):
        build_sinks(ProjectConfig.model_validate({"sinks": {"oncall": {"uses": "pager"}}}),
                    tmp_path, SecretResolver(tmp_path))


def test_broken_plugin_is_a_config_error(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _install(tmp_path / "site", "broken", "broken = no_such_module_xyz:Sink", None)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(ConfigError, match="'broken' from an installed plugin failed to load: "
                                          "ModuleNotFoundError"):
        registry.load_sink("broken")


def test_plugin_that_is_not_a_sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install(tmp_path / "site", "odd", "odd = odd_sink:Thing", "odd_sink", "class Thing: ...\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(ConfigError, match=r"does not implement secpipe\.sinks\.interface\.Sink"):
        registry.load_sink("odd")


def test_default_events_are_documented() -> None:
    text = (Path(__file__).parents[2] / "docs" / "sinks.md").read_text(encoding="utf-8")
    for name in DEFAULT_EVENTS:
        assert f"`{name}`" in text
