"""Bounded reading: hostile or broken manifests become problems, never exceptions or passes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import Scan, iac_file, pod, rule_hits
from secpipe.core.errors import ConfigError
from secpipe.core.safeload import parse_yaml, parse_yaml_documents
from secpipe.scanners.iac.kubernetes import analyse, yamldocs
from secpipe.scanners.iac.model import Budget

PRIVILEGED = pod("  containers:\n  - name: app\n    image: a:1\n    securityContext:\n"
                 "      privileged: true\n")


def _rules(result: object) -> list[str]:
    return [p.rule_id for p in result.problems]  # type: ignore[attr-defined]


def test_parse_yaml_documents_lines_and_bounds() -> None:
    docs = parse_yaml_documents("# head\na: 1\n---\n---\nb:\n  c: 2\n...\n---\n- x\n", "t")
    assert [d.data for d in docs] == [{"a": 1}, {"b": {"c": 2}}, ["x"]]
    assert [(d.first_line, d.last_line) for d in docs] == [(2, 2), (5, 6), (9, 9)]
    assert docs[1].lines[("b", "c")] == 6
    with pytest.raises(ConfigError, match="more than 2 YAML documents"):
        parse_yaml_documents("a: 1\n---\nb: 2\n---\nc: 3\n", "t", max_documents=2)
    with pytest.raises(ConfigError, match="nodes in the whole stream"):
        parse_yaml_documents("a: [1, 2, 3]\n---\nb: [1, 2, 3]\n", "t", max_nodes=10)
    with pytest.raises(ConfigError, match="duplicate key"):
        parse_yaml_documents("a: 1\n---\nb: 1\nb: 2\n", "t")
    with pytest.raises(ConfigError, match="undefined alias"):
        parse_yaml_documents("a: &x [1]\n---\nb: *x\n", "t")  # anchors do not cross documents


def test_parse_yaml_still_refuses_several_documents() -> None:
    with pytest.raises(ConfigError, match="expected a single document"):
        parse_yaml("a: 1\n---\nb: 2\n", "t")


def test_alias_bomb_is_a_problem(scan: Scan) -> None:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: x}", "a0: &a0 [x, x, x, x]"]
    for i in range(1, 14):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 4) + "]")
    started = time.monotonic()
    result = scan({"bomb.yaml": "\n".join(lines) + "\n"})
    assert time.monotonic() - started < 2
    assert _rules(result) in (["iac.parse-error"], ["iac.budget-exceeded"])
    assert "nodes" in result.problems[0].message
    assert result.files == 0


def test_deep_nesting_is_a_problem(scan: Scan) -> None:
    text = "apiVersion: v1\nkind: Pod\nx: " + "[" * 200 + "]" * 200 + "\n"
    result = scan({"deep.yaml": text})
    assert _rules(result) == ["iac.parse-error"]
    assert "deeper" in result.problems[0].message


def test_twenty_megabyte_file_is_too_large(scan: Scan, tmp_path: Path) -> None:
    big = PRIVILEGED + "# " + "x" * (20 << 20) + "\n"
    started = time.monotonic()
    result = scan({"big.yaml": big})
    assert time.monotonic() - started < 2
    assert _rules(result) == ["iac.too-large"]
    assert result.hits == []


def test_bad_yaml_is_a_parse_error_with_its_line(scan: Scan) -> None:
    result = scan({"bad.yaml": "apiVersion: v1\nkind: Pod\nspec: [\n  containers: {\n",
                   "good.yaml": PRIVILEGED})
    problems = [p for p in result.problems if p.path == "bad.yaml"]
    assert [p.rule_id for p in problems] == ["iac.parse-error"]
    assert problems[0].line is not None
    assert len(rule_hits(result, "iac.k8s.privileged")) == 1  # other files still checked
    assert result.files == 1


def test_duplicate_key_is_a_parse_error(scan: Scan) -> None:
    result = scan({"dup.yaml": PRIVILEGED.replace("kind: Pod\n", "kind: Pod\nkind: Pod\n")})
    assert _rules(result) == ["iac.parse-error"]
    assert result.problems[0].line == 3


def test_not_utf8_is_a_parse_error(scan: Scan) -> None:
    result = scan({"bin.yaml": b"apiVersion: v1\nkind: Pod\nx: \xff\xfe\n"})
    assert _rules(result) == ["iac.parse-error"]


def test_too_many_documents(scan: Scan, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamldocs, "MAX_DOCUMENTS", 3)
    result = scan({"many.yaml": "---\n".join([PRIVILEGED] * 5)})
    assert _rules(result) == ["iac.budget-exceeded"]


def test_spent_budget_reports_each_file(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(PRIVILEGED)
    budget = Budget(max_seconds=0.0, started=time.monotonic() - 1)
    result = analyse([iac_file(tmp_path, "a.yaml"), iac_file(tmp_path, "b.yaml")], [],
                     tmp_path, budget)
    assert [(p.rule_id, p.path) for p in result.problems] == [
        ("iac.budget-exceeded", "a.yaml"), ("iac.budget-exceeded", "b.yaml")]
    assert result.hits == []


def test_fifo_and_odd_shapes_do_not_raise(scan: Scan, tmp_path: Path) -> None:
    odd = ("apiVersion: v1\nkind: Deployment\nmetadata: [1]\nspec:\n  template:\n    spec:\n"
           "      containers: {a: 1}\n      volumes: [1, null, {hostPath: 3}]\n---\n"
           "apiVersion: v1\nkind: Pod\nspec:\n  containers: [null, 3, {securityContext: 1, "
           "image: 5, env: [{name: 1}, 2], ports: x, resources: [1]}]\n---\n"
           "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nrules: [1, {verbs: 3}]\n"
           "---\n[1, 2]\n---\nplain string\n")
    result = scan({"odd.yaml": odd})
    assert all(p.rule_id != "iac.parse-error" for p in result.problems)
    assert {r.type for r in result.resources} == {"Deployment", "Pod", "Role"}


def test_json_manifest(scan: Scan) -> None:
    text = ('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j"},\n'
            ' "spec": {"hostNetwork": true, "containers": []}}\n')
    hits = rule_hits(scan({"pod.json": text}), "iac.k8s.host-namespaces")
    assert [(h.resource, h.line) for h in hits] == [("Pod/default/j", 2)]


def test_json_that_yaml_cannot_read(scan: Scan) -> None:
    text = ('{\n\t"apiVersion": "v1",\n\t"kind": "Pod",\n\t"metadata": {"name": "t", '
            '"annotations": {"u": "http:\\/\\/x"}},\n\t"spec": {"hostIPC": true}\n}\n')
    result = scan({"tabs.json": text})
    assert result.problems == []
    hits = rule_hits(result, "iac.k8s.host-namespaces")
    assert [(h.resource, h.block) for h in hits] == [("Pod/default/t", (1, 6))]
    deep = "[" * 100 + "]" * 100
    assert _rules(scan({"deep.json": "{\t\"a\": " + deep + "}"})) == ["iac.parse-error"]
