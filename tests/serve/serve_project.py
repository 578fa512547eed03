"""A tiny project recorded through the real runner for the dashboard's tests.

Three runs of pipeline ``p``: the real ``scan-secrets`` step over a file holding planted
credentials (the store must keep them redacted), a plant step with findings of two scanners (one
whose message carries markup that must reach pages as text) and model metrics, then the real
``gate``. Runs 1 and 2 fail the gate; run 3 has ``fail_on: none`` and passes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from secpipe.core.findings import Finding, Location, Severity
from secpipe.core.results import StepResult
from secpipe.core.step import StepContext, StepKind, StepSettings

#: planted in config.py; the secrets scanner must redact them and no page may show them
PLANTED = ("AKIA" + "Z7Q3MVB5XK2PLR4T", "q8Vt3nR7xK2mW9pL4sD6" + "fH1jB5cZ0aE8yU3iO7gT",
           "sk_" + "live_4eC39HqLyjWDarjtT1zdp7dcQz8Rk2")  # split: never a literal in our tree
HOSTILE = ("<script>document.title='PWNED'</script>"
           "<img src=x onerror=\"document.title='PWNED2'\"> & more")
ACCURACY = (0.81, 0.86, 0.93)
PLANT_FINDINGS = 60  # over one page (50) of findings


TOKEN_ENV = "SECPIPE_SERVE_TEST_TOKEN"
#: a secret the plant step resolves through a reference and then puts in its message: the runner
#: must redact it before the run store sees it
TOKEN = "-".join(["tok", "Zq81Lm4Xc7Vb2Nn5"])


class _Settings(StepSettings):
    accuracy: float = 0.9
    token: str = ""


class PlantStep(StepKind[_Settings]):
    """Findings of scanners ``alpha`` and ``beta`` and a hostile one; metrics."""

    kind = "t-serve-plant"
    Settings = _Settings

    def run(self, ctx: StepContext, settings: Any) -> StepResult:
        from secpipe.keys.refs import resolver_for

        token = resolver_for(ctx).resolve(settings.token) if settings.token else ""
        findings = [
            Finding.create(rule_id=f"alpha.rule-{i % 3}", title=f"alpha issue {i}",
                           severity=Severity.LOW if i % 2 else Severity.MEDIUM, scanner="alpha",
                           location=Location(path=f"src/mod{i}.py", line=i + 1),
                           message=f"alpha message number {i}", key=f"a{i}")
            for i in range(PLANT_FINDINGS)]
        findings.append(Finding.create(
            rule_id="beta.unique", title="needle in beta", severity=Severity.HIGH,
            scanner="beta", location=Location(path="app/beta.py", line=7),
            message="the only beta finding", key="b1"))
        findings.append(Finding.create(
            rule_id="beta.hostile", title="hostile <b>title</b>", severity=Severity.INFO,
            scanner="beta", location=Location(path="app/<svg onload=alert(1)>.py", line=1),
            message=HOSTILE, key="h1"))
        return StepResult(findings=tuple(findings), message=f"connected with token {token}",
                          metrics={"accuracy": settings.accuracy,
                                   "f1": round(settings.accuracy - 0.05, 4)})


def _config(accuracy: float, policy: str) -> str:
    return (policy + "pipelines:\n  p:\n    stages:\n"
            "      - {name: scan, steps: [{uses: scan-secrets, id: secrets},"
            f" {{uses: t-serve-plant, id: plant, with: {{accuracy: {accuracy},"
            f" token: '${{env:{TOKEN_ENV}}}'}}}}]}}\n"
            "      - {name: gate, steps: [{uses: gate}]}\n")


def record_runs(root: Path) -> list[str]:
    """Write the project under ``root`` and record its three runs with ``secpipe run``; the
    run ids, oldest first. The caller registers :class:`PlantStep` as ``t-serve-plant`` and
    sets ``$SECPIPE_SERVE_TEST_TOKEN`` to :data:`TOKEN`."""
    from secpipe.cli.main import main

    root.mkdir(parents=True, exist_ok=True)
    (root / "config.py").write_text(
        f'AWS_ACCESS_KEY_ID = "{PLANTED[0]}"\nAWS_SECRET_ACCESS_KEY = "{PLANTED[1]}"\n'
        f'STRIPE = "{PLANTED[2]}"\n')
    codes = []
    for n, accuracy in enumerate(ACCURACY):
        policy = "policy: {fail_on: none}\n" if n == 2 else ""
        (root / "secpipe.yaml").write_text(_config(accuracy, policy))
        codes.append(main(["run", "p", "-C", str(root), "-q"]))
        time.sleep(0.01)
    assert codes == [1, 1, 0], codes
    from secpipe.runstore.sqlite import RunStore

    store = RunStore(root / ".secpipe" / "runs.db")
    try:
        return [r.run_id for r in reversed(store.list_runs(limit=10))]
    finally:
        store.close()
