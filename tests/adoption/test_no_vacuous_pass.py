"""Issue 10 item 2: no green run that did nothing. A step with nothing to work on is shown as
having done no work; `policy.require` turns that into a failed run."""

from __future__ import annotations

from pathlib import Path

import pytest

from secpipe.cli.main import main
from secpipe.runstore import RunStore

PIPELINE = """
{policy}
pipelines:
  p:
    stages:
      - name: scan
        steps: [{{uses: scan-secrets, with: {{cache: false}}}}]
      - name: train
        steps: [{{uses: train}}]
      - name: gate
        steps: [{{uses: gate}}]
"""


def _project(project: Path, policy: str = "") -> None:
    (project / "app.py").write_text("print('hello')\n")
    (project / "secpipe.yaml").write_text(PIPELINE.format(policy=policy))


def test_a_step_that_did_nothing_is_said_so(project: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    _project(project)
    assert main(["run", "p", "-C", str(project), "-q"]) == 0
    out = capsys.readouterr().out
    assert "did no work" in out and "train:" in out
    store = RunStore(project / ".secpipe" / "runs.db")
    try:
        run = store.get_run(store.resolve("latest"))
    finally:
        store.close()
    assert next(s for s in run.steps if s.step_id == "train").status.value == "skipped"


def test_a_required_step_that_did_nothing_fails_the_run(project: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    _project(project, "policy: {require: [scan-secrets, train]}")
    assert main(["run", "p", "-C", str(project), "-q"]) == 1
    out = capsys.readouterr().out
    assert "required step train did no work" in out
    assert "required step scan-secrets" not in out.replace("scan-secrets did real work", "")
    assert main(["gate", "latest", "-C", str(project)]) == 1  # the re-judged run fails too


def test_a_requirement_met_passes(project: Path) -> None:
    _project(project, "policy: {require: [scan-secrets]}")
    assert main(["run", "p", "-C", str(project), "-q"]) == 0
    assert main(["gate", "latest", "-C", str(project)]) == 0


def test_a_misspelt_requirement_is_a_configuration_error(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _project(project, "policy: {require: [trian]}")
    assert main(["run", "p", "-C", str(project), "-q"]) == 2
    assert "policy.require: 'trian' is neither a step kind nor a step id" in \
        capsys.readouterr().err
    store = RunStore(project / ".secpipe" / "runs.db")
    try:
        assert store.list_runs() == []  # refused before the run started
    finally:
        store.close()


def test_a_requirement_of_another_pipeline_does_not_apply(project: Path) -> None:
    # one project-wide policy: `sign` is required where a pipeline has a sign step
    _project(project, "policy: {require: [scan-secrets, sign]}")
    assert main(["run", "p", "-C", str(project), "-q"]) == 0
