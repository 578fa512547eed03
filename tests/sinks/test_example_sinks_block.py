"""The `sinks:` block the example's secpipe.yaml documents (commented out) is valid: each entry
names a real sink kind and its `with:` validates against that kind's settings."""

from __future__ import annotations

from pathlib import Path

from secpipe.core.safeload import parse_yaml
from secpipe.sinks.registry import load_sink

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "request-classifier" / "secpipe.yaml"


def test_the_examples_commented_sinks_block_validates() -> None:
    text = EXAMPLE.read_text()
    block = text[text.index("\n# sinks:") + 1:]
    uncommented = "\n".join(line[2:] if line.startswith("# ") else line
                            for line in block.splitlines() if line.startswith("#"))
    sinks = parse_yaml(uncommented, "example sinks").data["sinks"]
    assert {spec["uses"] for spec in sinks.values()} >= {
        "slack", "telegram", "pagerduty", "webhook", "prometheus", "defectdojo", "ecs-log"}
    for name, spec in sinks.items():
        kind = load_sink(spec["uses"])
        assert kind.Settings.model_validate(spec.get("with") or {}), name
