"""Hostile and broken input: every bound hit is a problem, never a crash or a silent pass."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tfload_helpers import by_address, load_tree, one_model, write_tree

from secpipe.scanners.iac.model import Budget, Unresolved
from secpipe.scanners.iac.terraform import load, loader
from secpipe.scanners.iac.terraform.model import is_unresolved


def test_parse_error_is_a_problem_naming_the_line(tmp_path: Path) -> None:
    models, problems = load_tree(tmp_path, {"main.tf": (
        'resource "aws_s3_bucket" "ok" {\n  bucket = "fine"\n}\n'
        'resource "aws_s3_bucket" "broken" {\n  bucket = \n}\n')})
    errors = [p for p in problems if p.rule_id == "iac.parse-error"]
    assert len(errors) == 1
    assert errors[0].path == "main.tf" and errors[0].line == 5
    # the block free of errors is still analysed; the broken one is not guessed at
    assert [r.address for r in models[0].resources] == ["aws_s3_bucket.ok"]


def test_deep_nesting_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    deep = "[" * 5000 + "1" + "]" * 5000
    parens = "(" * 3000 + "1" + ")" * 3000
    chain = "+".join(["1"] * 3000)
    blocks = "a {\n" * 200 + "}\n" * 200
    _, problems = load_tree(tmp_path, {
        "deep.tf": f'locals {{ x = {deep} }}\n',
        "parens.tf": f'locals {{ y = {parens} }}\n',
        "chain.tf": f'locals {{ z = {chain} }}\n',
        "blocks.tf": f'resource "x" "y" {{\n{blocks}}}\n',
    })
    bad = {p.path for p in problems if p.rule_id == "iac.parse-error"}
    assert bad == {"deep.tf", "parens.tf", "chain.tf", "blocks.tf"}
    assert all("nesting" in p.message for p in problems if p.rule_id == "iac.parse-error")


def test_deep_json_is_a_problem(tmp_path: Path) -> None:
    _, problems = load_tree(tmp_path, {"main.tf.json": "[" * 100_000 + "]" * 100_000})
    assert [p.rule_id for p in problems] == ["iac.parse-error"]


def test_huge_file_is_too_large(tmp_path: Path) -> None:
    big = 'resource "x" "y" { a = "' + "a" * 3000 + '" }\n'
    models, problems = load_tree(tmp_path, {"big.tf": big, "small.tf": 'resource "x" "z" {}\n'},
                                 budget=Budget(max_file_bytes=2048))
    assert [(p.rule_id, p.path) for p in problems] == [("iac.too-large", "big.tf")]
    assert [r.address for r in models[0].resources] == ["x.z"]


def test_time_budget_spent_marks_remaining_files(tmp_path: Path) -> None:
    files = write_tree(tmp_path, {f"f{i}.tf": f'resource "x" "y{i}" {{}}\n' for i in range(3)})
    budget = Budget(max_seconds=0.0)
    budget.started = time.monotonic() - 10
    _, problems = load(files, tmp_path, budget)
    assert sorted(p.path for p in problems if p.rule_id == "iac.budget-exceeded") == [
        "f0.tf", "f1.tf", "f2.tf"]


def test_cycles_and_long_chains_of_locals_stay_bounded(tmp_path: Path) -> None:
    chain = "\n".join(f"  l{i} = local.l{i + 1}" for i in range(200)) + '\n  l200 = "end"\n'
    doubling = "\n".join(f'  d{i} = "${{local.d{i + 1}}}${{local.d{i + 1}}}"'
                         for i in range(60)) + '\n  d60 = "xx"\n'
    square = "\n".join(f"  s{i} = local.s{i + 1} * local.s{i + 1}" for i in range(40)) + \
        "\n  s40 = 3\n"
    started = time.monotonic()
    model, _ = one_model(tmp_path, {"main.tf": (
        "locals {\n  a = local.b\n  b = local.a\n" + chain + doubling + square + "}\n"
        'resource "x_thing" "t" {\n'
        '  cyc = local.a\n  far = local.l0\n  near = local.l190\n'
        '  dbl = local.d0\n  sq = local.s0\n'
        '  big = [for i in split(",", join(",", [for c in split("", "abc") : c])) : i]\n'
        '}\n')})
    assert time.monotonic() - started < 10  # generous: CI machines are shared
    body = by_address(model)["x_thing.t"].body
    assert isinstance(body.get("cyc"), Unresolved)
    assert isinstance(body.get("far"), Unresolved)
    assert body.get("near") == "end"
    assert isinstance(body.get("dbl"), Unresolved)
    assert isinstance(body.get("sq"), Unresolved)


def test_huge_count_is_capped_with_a_problem(tmp_path: Path) -> None:
    model, problems = one_model(tmp_path, {"main.tf": (
        'resource "x_thing" "t" {\n  count = 1000000000\n}\n')})
    assert len(model.resources) == 1000
    assert [p.rule_id for p in problems] == ["iac.budget-exceeded"]


def test_binary_and_nul_content_is_a_parse_error(tmp_path: Path) -> None:
    _, problems = load_tree(tmp_path, {"bin.tf": b"\x00\x01\x02resource", "bad.tf.json": b"{"})
    assert sorted((p.rule_id, p.path) for p in problems) == [
        ("iac.parse-error", "bad.tf.json"), ("iac.parse-error", "bin.tf")]


def test_var_file_outside_the_project_is_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.tfvars"
    outside.write_text('v = "secret"\n')
    root = tmp_path / "proj"
    root.mkdir()
    files = write_tree(root, {"main.tf": 'variable "v" {}\nresource "x" "y" { v = var.v }\n'})
    models, problems = load(files, root, Budget(), ["../outside.tfvars"])
    assert isinstance(models[0].resources[0].body.get("v"), Unresolved)
    assert any("outside the project" in p.message for p in problems)


def test_evaluation_step_budget_is_a_problem(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_EVAL_STEPS", 20_000)
    model, problems = one_model(tmp_path, {"main.tf": (
        'resource "x_thing" "t" {\n'
        '  grid = [for i in range(1000) : [for j in range(1000) : j]]\n'
        '  late = "x"\n'
        '}\n')})
    body = by_address(model)["x_thing.t"].body
    assert is_unresolved(body.get("grid"))
    assert isinstance(body.get("late"), Unresolved)  # nothing evaluates past the budget
    assert [p.rule_id for p in problems] == ["iac.budget-exceeded"]
    assert "evaluation steps" in problems[0].message
