"""The module's public face: ``analyse`` over files on disk within a budget, and the rule
table the step and the docs read."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from secpipe.scanners.iac.docker import RULES, analyse
from secpipe.scanners.iac.model import FRAMEWORKS, Budget, IacFile


def _write(root: Path, rel: str, text: str) -> IacFile:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return IacFile(str(path), rel, path.stat().st_size)


def test_analyse_dockerfiles_and_composes(tmp_path: Path) -> None:
    dfile = _write(tmp_path, "svc/Dockerfile",
                   "FROM python:3.12-slim\nRUN curl -fsSL https://x.example | sh\nUSER 10001\n"
                   "HEALTHCHECK CMD true\n")
    cfile = _write(tmp_path, "compose.yaml",
                   "services:\n  b:\n    image: docker:27.1\n    volumes:\n"
                   "      - /var/run/docker.sock:/var/run/docker.sock\n")
    out = analyse([dfile], [cfile], tmp_path, Budget())
    assert {(h.rule_id, h.path, h.line) for h in out.hits} == {
        ("iac.docker.remote-script-exec", "svc/Dockerfile", 2),
        ("iac.compose.docker-socket", "compose.yaml", 5)}
    assert out.files == 2 and out.problems == []
    assert {r.framework for r in out.resources} == {"dockerfile", "compose"}
    for hit in out.hits:
        assert hit.rule_id in RULES


def test_bad_files_become_problems_and_the_rest_is_analysed(tmp_path: Path) -> None:
    broken = _write(tmp_path, "docker-compose.yml", "services: [\n")
    missing = IacFile(str(tmp_path / "gone" / "Dockerfile"), "gone/Dockerfile", 10)
    good = _write(tmp_path, "Dockerfile", "FROM ubuntu\n")
    out = analyse([missing, good], [broken], tmp_path, Budget())
    assert sorted((p.rule_id, p.path) for p in out.problems) == [
        ("iac.parse-error", "docker-compose.yml"), ("iac.parse-error", "gone/Dockerfile")]
    assert any(h.rule_id == "iac.docker.base-image-unpinned" for h in out.hits)
    assert out.files == 1


def test_spent_time_budget_reports_every_file_left(tmp_path: Path) -> None:
    files = [_write(tmp_path, f"d{i}/Dockerfile", "FROM ubuntu\n") for i in range(3)]
    budget = Budget(max_seconds=0.0)
    budget.started = time.monotonic() - 1
    out = analyse(files, [], tmp_path, budget)
    assert [p.rule_id for p in out.problems] == ["iac.budget-exceeded"] * 3
    assert out.hits == [] and out.files == 0


def test_too_large_compose_file(tmp_path: Path) -> None:
    big = _write(tmp_path, "compose.yml", "services:\n" + "#" * 5000 + "\n")
    out = analyse([], [big], tmp_path, Budget(max_file_bytes=1000))
    assert [p.rule_id for p in out.problems] == ["iac.too-large"]


def test_rule_table_is_complete_and_well_formed() -> None:
    assert len(RULES) >= 20
    for rule_id, rule in RULES.items():
        assert rule.id == rule_id
        framework = "dockerfile" if rule_id.startswith("iac.docker.") else "compose"
        assert rule_id.startswith(("iac.docker.", "iac.compose."))
        assert rule.framework == framework and rule.framework in FRAMEWORKS
        assert re.fullmatch(r"CWE-\d+", rule.cwe)
        assert any(c.startswith("NIST-800-53:") for c in rule.controls), rule_id
        assert all(re.fullmatch(r"(NIST-800-53:[A-Z]{2}-\d+(\(\d+\))?|CIS-DOCKER-\d\.\d+)", c)
                   for c in rule.controls), rule.controls
        assert all(re.fullmatch(r"(CKV2?_DOCKER_\d+|AVD-DS-\d{4})", a) for a in rule.aliases)
        assert rule.title and rule.rationale and rule.fix and rule.bad and rule.good


def test_every_rule_fires_on_its_own_bad_example() -> None:
    from dockertest_helpers import dc, df

    for rule in RULES.values():
        if rule.framework == "dockerfile":
            text = rule.bad if rule.bad.startswith("FROM") else f"FROM debian:12\n{rule.bad}\n"
            found = df(text)
        else:
            bad = rule.bad
            if not bad.startswith("services:"):
                body = "".join(f"    {line}\n" for line in bad.splitlines())
                bad = f"services:\n  app:\n    image: x:1\n{body}"
                if rule.id == "iac.compose.image-unpinned":
                    bad = "services:\n  app:\n    image: redis\n"
            found = dc(bad)
        assert any(h.rule_id == rule.id for h in found.hits), rule.id


def _wrap(rule_id: str, text: str) -> str:
    if rule_id.startswith("iac.docker."):
        return text if text.startswith(("FROM", "ARG")) else f"FROM debian:12\n{text}\n"
    if text.startswith("services:"):
        return text
    body = "".join(f"    {line}\n" for line in text.splitlines())
    if text.startswith("image:"):
        return f"services:\n  app:\n{body}"
    return f"services:\n  app:\n    image: x:1\n{body}"


def test_every_rule_is_silent_on_its_own_good_example() -> None:
    from dockertest_helpers import dc, df

    for rule in RULES.values():
        text = _wrap(rule.id, rule.good)
        found = df(text) if rule.framework == "dockerfile" else dc(text)
        assert not any(h.rule_id == rule.id for h in found.hits), (rule.id, found.hits)


def test_an_analyser_failure_is_a_problem_not_a_crash(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from secpipe.scanners.iac.docker import dockerfile

    def boom(text: str, rel: str) -> None:
        raise ValueError("bug")

    monkeypatch.setattr(dockerfile, "analyse_text", boom)
    files = [_write(tmp_path, "Dockerfile", "FROM ubuntu\n")]
    other = _write(tmp_path, "compose.yml", "services:\n  a:\n    privileged: true\n")
    out = analyse(files, [other], tmp_path, Budget())
    assert [(p.rule_id, p.path) for p in out.problems] == [("iac.parse-error", "Dockerfile")]
    assert [h.rule_id for h in out.hits] == ["iac.compose.privileged"]


def test_compose_files_have_their_own_smaller_cap(tmp_path: Path) -> None:
    from secpipe.scanners.iac.docker import compose

    big = _write(tmp_path, "compose.yml",
                 "services:\n" + "#" * (compose.MAX_COMPOSE_BYTES + 10) + "\n")
    out = analyse([], [big], tmp_path, Budget())
    assert [p.rule_id for p in out.problems] == ["iac.too-large"]
