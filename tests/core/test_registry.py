"""The explicit registry covers every built-in kind, and each entry is a real StepKind."""

from __future__ import annotations

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
