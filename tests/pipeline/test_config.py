"""Configuration loading: every malformed input is a one-line ConfigError naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from secpipe.core.errors import ConfigError
from secpipe.pipeline.config import load_project
from secpipe.pipeline.runner import plan


def _load(project: Path, text: str) -> None:
    (project / "secpipe.yaml").write_text(text)
    p = load_project(project)
    for name in p.config.pipelines:
        plan(p, name, p.pipeline(name))


def test_no_config_gives_defaults(project: Path) -> None:
    p = load_project(project)
    assert p.config_path is None
    assert p.config.policy.fail_on is not None and p.config.policy.fail_on.value == "high"
    assert "mlsecops" in p.pipeline_names() and "devsecops" in p.pipeline_names()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pipelines: [unclosed", "malformed YAML"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("polcy: {}\n", "polcy: unknown key"),
        ("version: 2\n", "unsupported version 2"),
        ("policy: {fail_on: severe}\n", "unknown severity 'severe'"),
        ("policy: {metrics: ['accuracy is good']}\n", "bad metric bound"),
        ("policy: {max: {high: -1}}\n", "max.high must be >= 0"),
        ("suppressions: [{rule: x}]\n", "suppressions[0].reason: Field required"),
        ("suppressions: [{reason: because}]\n", "needs a fingerprint, a rule or a path"),
        ("pipelines: {p: {stages: []}}\n", "pipelines.p.stages"),
        ("pipelines: {p: {stages: [{name: s, steps: [{uzes: gate}]}]}}\n",
         "steps[0].uzes: unknown key"),
        ("pipelines: {p: {stages: [{name: s, steps: [{uses: gate, id: a}, {uses: gate, id: a}]}]}}",
         "step id 'a' is used twice"),
        ("pipelines: {p: {stages: [{name: s, steps: [{uses: no-such-kind}]}]}}\n",
         "unknown step kind 'no-such-kind'"),
        ("pipelines: {p: {stages: [{name: s, steps: [{uses: gate, with: {fail_onn: high}}]}]}}\n",
         "step gate.with: fail_onn: unknown key"),
        ("pipelines: {p: {stages: [{name: s, steps: [{uses: gate, timeout: 0}]}]}}\n",
         "timeout"),
    ],
)
def test_bad_config_names_the_problem(project: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(project, text)
    assert expected in info.value.diagnostic()
    assert "\n" not in info.value.message


def test_yaml_line_is_reported(project: Path) -> None:
    with pytest.raises(ConfigError, match=r"secpipe.yaml: line 2: malformed YAML"):
        _load(project, "version: 1\n\tpolicy: {}\n")


def test_oversized_config_is_refused(project: Path) -> None:
    with pytest.raises(ConfigError, match="too large"):
        _load(project, "# " + "x" * (2 << 20))


def test_yaml_tags_are_not_constructed(project: Path) -> None:
    # safe_load refuses python object tags instead of building them
    with pytest.raises(ConfigError, match="malformed YAML"):
        _load(project, "policy: !!python/object/apply:os.system ['true']\n")


def test_unknown_pipeline(project: Path) -> None:
    p = load_project(project)
    with pytest.raises(ConfigError, match="unknown pipeline 'nope'"):
        p.pipeline("nope")


def test_missing_project_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_project(tmp_path / "missing")


def test_defaults_are_merged_under_step_settings(project: Path) -> None:
    (project / "secpipe.yaml").write_text(
        "defaults: {gate: {fail_on: low, max: {medium: 3}}}\n"
        "pipelines: {p: {stages: [{name: s, steps: [{uses: gate, with: {fail_on: critical}}]}]}}\n"
    )
    p = load_project(project)
    [[step]] = plan(p, "p", p.pipeline("p"))
    assert step.settings.model_dump()["fail_on"].value == "critical"
    assert step.settings.model_dump()["max"] == {"medium": 3}


def test_suppressions_file_is_merged(project: Path) -> None:
    (project / "secpipe.yaml").write_text("suppressions: [{rule: a, reason: first}]\n")
    (project / ".secpipe-suppressions.yaml").write_text("- {rule: b, reason: second}\n")
    p = load_project(project)
    assert [s.rule for s in p.suppressions] == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 1\npolicy:\n  fail_on: severe\n", "secpipe.yaml: line 3: policy.fail_on:"),
        ("version: 1\n\npolcy: {}\n", "secpipe.yaml: line 3: polcy: unknown key"),
        ("pipelines:\n  p:\n    stages:\n      - name: s\n        steps:\n          - uses: gate\n"
         "            wiht: {}\n", "line 7: pipelines.p.stages[0].steps[0].wiht: unknown key"),
        ("defaults:\n  gate:\n    fail_on: severe\n", "line 3: defaults.gate.fail_on: unknown"),
    ],
)
def test_validation_errors_name_the_line(project: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(project, text)
    assert expected in info.value.message


def test_suppressions_file_errors_name_the_line(project: Path) -> None:
    (project / ".secpipe-suppressions.yaml").write_text(
        "- {rule: a, reason: fine}\n- rule: b\n  reason: ok\n")
    with pytest.raises(ConfigError, match=r"suppressions\.yaml\[1\]: line 3: reason: a reason"):
        load_project(project)


def test_renamed_scanner_key_under_defaults_names_the_new_one(project: Path) -> None:
    with pytest.raises(ConfigError, match="renamed 'max_archive_depth'"):
        _load(project, "defaults: {scan-models: {max_depth: 3}}\n")


def test_yaml_anchors_and_merge_keys_still_work(project: Path) -> None:
    _load(project, "defaults:\n  gate: &strict {fail_on: low}\n  exec: {pass_env: [A]}\n"
                   "pipelines:\n  p:\n    stages:\n      - name: s\n        steps:\n"
                   "          - {uses: gate, with: {<<: *strict, max: {low: 2}}}\n")
    p = load_project(project)
    assert p.config.defaults["gate"] == {"fail_on": "low"}
    assert p.config.pipelines["p"].stages[0].steps[0].with_ == {"fail_on": "low",
                                                                 "max": {"low": 2}}
