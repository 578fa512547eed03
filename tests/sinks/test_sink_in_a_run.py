"""A whole `secpipe run` with a webhook sink whose receiver takes 5 s per request: the steps do
not wait for it, and the end of the run waits at most `sink_drain_seconds`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sink_helpers import receiver

from secpipe.cli.main import main

CONFIG = """
sink_drain_seconds: {drain}
sinks:
  slow:
    uses: webhook
    with: {{url: "{url}", events: ["*"], retries: 0, timeout: 30}}
pipelines:
  p:
    stages:
      - name: scan
        steps: [{{uses: scan-secrets, with: {{cache: false}}}}]
      - name: gate
        steps: [{{uses: gate}}]
"""


def test_a_sink_that_takes_5_s_adds_well_under_5_s_to_a_run(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "app.py").write_text("print('hello')\n")
    with receiver(sleep=5.0) as recv:
        (project / "secpipe.yaml").write_text(CONFIG.format(drain=1, url=recv.url))
        started = time.monotonic()
        assert main(["run", "p", "-C", str(project), "-q"]) == 0
        took = time.monotonic() - started
        assert recv.requests, "the sink received nothing"
    assert took < 3.0, f"the run took {took:.1f} s"
    err = capsys.readouterr().err
    assert "sink slow:" in err and "not delivered" in err  # said, never silent


def test_a_fast_sink_receives_the_whole_run(project: Path) -> None:
    (project / "app.py").write_text("print('hello')\n")
    with receiver() as recv:
        (project / "secpipe.yaml").write_text(CONFIG.format(drain=10, url=recv.url))
        assert main(["run", "p", "-C", str(project), "-q"]) == 0
        types = [body["type"] for _, _, body in recv.requests]
    assert types[0] == "run.started" and types[-1] == "run.finished"
    assert "gate.decided" in types
    finished = [body for _, _, body in recv.requests if body["type"] == "step.finished"]
    assert {b["step"] for b in finished} == {"scan-secrets", "gate"}
