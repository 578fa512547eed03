"""The explicit registry covers every built-in kind, and each entry is a real StepKind."""

from __future__ import annotations

from pathlib import Path

import pytest

from secpipe.core import registry
from secpipe.core.errors import ConfigError
from secpipe.core.step import StepKind, StepSettings
from secpipe.pipeline.builtin import builtin_layout, builtin_pipeline_names


@pytest.mark.parametrize("name", sorted(registry.BUILTIN_STEPS))
def test_every_builtin_kind_loads(name: str) -> None:
    cls = registry.load_kind(name)
    assert issubclass(cls, StepKind)
    assert cls.kind == name
    assert issubclass(cls.Settings, StepSettings)
    assert cls.summary, f"{name} needs a one-line summary for `secpipe steps`"
    assert cls.Settings.model_config.get("extra") == "forbid"


def test_registry_is_sorted() -> None:
    assert list(registry.BUILTIN_STEPS) == sorted(registry.BUILTIN_STEPS)


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        registry.load_kind("scan-everything")
    assert "scan-everything" in info.value.message
    assert info.value.hint is not None and "gate" in info.value.hint


def test_builtin_layouts_use_only_planned_kind_names() -> None:
    # every kind named in the seed layouts is either registered or on the roadmap list below
    roadmap = {"scan-code", "scan-deps", "scan-notebooks", "scan-datasets", "probe-llm",
               "scan-iac", "build-image", "scan-image", "scan-web", "deploy", "scan-ports",
               "scan-host", "guard", "load", "store", "sign", "train", "evaluate",
               "scan-models"}
    for name in builtin_pipeline_names():
        layout = builtin_layout(name)
        assert layout is not None
        for _, steps in layout:
            for kind, _, _ in steps:
                assert kind in registry.BUILTIN_STEPS or kind in roadmap, kind


def test_third_party_kind_from_an_installed_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An installed distribution (a .dist-info with entry_points.txt on sys.path) adds a kind.
    site = tmp_path / "site"
    pkg = site / "acme_scan"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        "from secpipe.core.step import StepKind, StepSettings\n"
        "from secpipe.core.results import StepResult\n"
        "class AcmeStep(StepKind):\n"
        "    kind = 'acme-scan'\n"
        "    summary = 'third-party test kind'\n"
        "    def run(self, ctx, settings):\n"
        "        return StepResult(message='acme ran')\n"
    )
    info = site / "acme_scan-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-scan\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[secpipe.steps]\nacme-scan = acme_scan:AcmeStep\n")
    monkeypatch.syspath_prepend(str(site))
    assert "acme-scan" in registry.available_kinds()
    cls = registry.load_kind("acme-scan")
    assert cls.kind == "acme-scan"


def test_broken_plugin_is_a_config_error(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    info = site / "broken-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[secpipe.steps]\nbroken = no_such_module:Step\n")
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(ConfigError, match="failed to load"):
        registry.load_kind("broken")
