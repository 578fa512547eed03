"""analyse(): checks run on every model, resources listed, a crashing check handled, the
parse cache."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from tfload_helpers import write_tree

from secpipe.scanners.iac.model import Budget, IacHit, Problem, Ref
from secpipe.scanners.iac.terraform import analyse, loader
from secpipe.scanners.iac.terraform.model import TfModel

FILES = {
    "main.tf": (
        'resource "aws_s3_bucket" "b" {\n'
        '  bucket = "data"\n'
        '  versioning {\n    enabled = true\n  }\n'
        '}\n'
        'resource "aws_s3_bucket_acl" "a" {\n'
        '  bucket = aws_s3_bucket.b.id\n  acl = "public-read"\n}\n'
        'data "aws_iam_policy_document" "d" {}\n'),
}


def _fake_check(model: TfModel) -> Iterable[IacHit | Problem]:
    for res in model.of_type("aws_s3_bucket_acl"):
        if res.body.get("acl") == "public-read":
            yield IacHit("iac.test.acl", res.path, res.body.line_of("acl"), "public acl",
                         resource=res.address, block=res.block)
    yield Problem("iac.unresolved", model.root, None, "a note")


def _crashing_check(model: TfModel) -> Iterable[IacHit | Problem]:
    raise RuntimeError("bug")


def test_analyse_runs_checks_and_lists_resources(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "_checks", lambda: [_fake_check])
    files = write_tree(tmp_path, FILES)
    result = analyse(files, tmp_path, Budget())
    assert [(h.rule_id, h.line, h.resource, h.block) for h in result.hits] == [
        ("iac.test.acl", 9, "aws_s3_bucket_acl.a", (7, 10))]
    assert [p.message for p in result.problems] == ["a note"]
    assert result.files == 1
    names = [r.name for r in result.resources]
    assert names == ["aws_s3_bucket.b", "aws_s3_bucket_acl.a"]  # data sources are not listed
    bucket = result.resources[0]
    assert bucket.framework == "terraform" and bucket.type == "aws_s3_bucket"
    assert bucket.attrs == {"bucket": "data", "versioning": [{"enabled": True}]}
    assert bucket.lines["versioning.enabled"] == 4
    assert (bucket.line, bucket.end_line) == (1, 6)
    assert result.resources[1].attrs["bucket"] == Ref("aws_s3_bucket.b", "id")


def test_the_real_check_lists_are_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def spy(model: TfModel) -> Iterable[IacHit | Problem]:
        seen.append(model.root)
        return []

    monkeypatch.setattr(loader.rules_gcp, "CHECKS", [spy])
    analyse(write_tree(tmp_path, FILES), tmp_path, Budget())
    assert seen == ["."]


def test_crashing_check_raises_in_tests_and_is_a_problem_otherwise(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "_checks", lambda: [_crashing_check])
    files = write_tree(tmp_path, FILES)
    with pytest.raises(RuntimeError):
        analyse(files, tmp_path, Budget())
    monkeypatch.setattr(loader, "STRICT_CHECKS", False)
    result = analyse(files, tmp_path, Budget())
    assert [p.rule_id for p in result.problems] == ["iac.unresolved"]
    assert "_crashing_check" in result.problems[0].message
    assert "internal error" in result.problems[0].message


def test_cache_is_used_and_a_corrupt_entry_rebuilt(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "_checks", lambda: [])
    root = tmp_path / "proj"
    cache = tmp_path / "cache"
    files = write_tree(root, FILES)
    first = analyse(files, root, Budget(), cache_dir=cache)
    entries = list(cache.glob("*/*.json"))
    assert len(entries) == 1
    assert json.loads(entries[0].read_text())["v"] >= 1

    calls: list[int] = []
    real = loader._parse

    def counting(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(loader, "_parse", counting)
    again = analyse(files, root, Budget(), cache_dir=cache)
    assert calls == [] and again.resources == first.resources

    entries[0].write_text("{not json")
    rebuilt = analyse(files, root, Budget(), cache_dir=cache)
    assert calls == [1] and rebuilt.resources == first.resources
    assert json.loads(entries[0].read_text())["v"] >= 1


def test_cache_is_bounded_oldest_entries_go_first(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "_checks", lambda: [])
    monkeypatch.setattr(loader, "MAX_CACHE_ENTRIES", 8)
    root = tmp_path / "proj"
    cache = tmp_path / "cache"
    first: set[Path] = set()
    for i in range(12):
        files = write_tree(root, {f"f{i}.tf": f'resource "x" "r{i}" {{}}\n'})
        analyse([f for f in files if f.rel == f"f{i}.tf"], root, Budget(), cache_dir=cache)
        for entry in cache.glob("*/*.json"):
            if entry.stat().st_mtime > 1_000_000:  # just written: date it by write order
                os.utime(entry, (i + 1, i + 1))
                if i < 3:
                    first.add(entry)
    entries = set(cache.glob("*/*.json"))
    assert 6 <= len(entries) <= 9
    assert not first & entries  # the oldest went first


def test_rules_merge_the_three_rule_modules() -> None:
    expected = {*loader.rules_aws.RULES, *loader.rules_azure.RULES, *loader.rules_gcp.RULES}
    assert set(loader.RULES) == expected
    assert all(rule.framework == "terraform" for rule in loader.RULES.values())


def test_malformed_cache_entries_never_crash(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "_checks", lambda: [])
    root = tmp_path / "proj"
    cache = tmp_path / "cache"
    files = write_tree(root, {"main.tf": FILES["main.tf"] + 'module "m" { source = "./m" }\n'})
    clean = analyse(files, root, Budget(), cache_dir=cache)
    (entry,) = cache.glob("*/*.json")
    good = json.loads(entry.read_text())
    shapes: list[object] = [
        {"v": good["v"], "body": {"a": [], "b": [["resource", ["x"], {"a": 1}, 1, 2]]},
         "errors": []},
        {"v": good["v"], "body": {"a": [], "b": [["resource", ["t", "n"], {"a": [
            ["x", [], 1], ["y", ["trav"], 2], ["z", ["call", 3, None, 0, 0], 3],
            ["w", ["tpl", [["tfor"]], ""], 4]], "b": [
                ["dynamic", ["d"], {"a": [["iterator", [], 1]], "b": []}, 1, 1]]}, 1, 2],
            ["module", ["m"], {"a": [["source", ["lit"], 1]], "b": []}, 3, 3]]},
         "errors": []},
        {"v": good["v"], "body": [], "errors": [[None, "x"]]},
    ]
    for shape in shapes:
        entry.write_text(json.dumps(shape))
        result = analyse(files, root, Budget(), cache_dir=cache)
        assert all(p.rule_id != "iac.parse-error" for p in result.problems)
    entry.write_text(json.dumps(shapes[0]))
    assert analyse(files, root, Budget(), cache_dir=cache).resources == clean.resources
