"""Done-when of the monitoring issue on the example project: with a `sinks:` block in its
secpipe.yaml (the commented one the example ships, filled in with this machine's receivers),
one `secpipe run mlsecops` delivers to local Slack, Telegram, PagerDuty and webhook receivers
(real HTTP servers), a real Pushgateway (read back through a real Prometheus) and a real Faraday;
a receiver that answers 500 and then 200 gets each event once; `secpipe serve` shows the run."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "sinks"))

from chat_receiver import chat_receiver, telegram_ok
from faraday_server import faraday_server  # noqa: F401  (session fixture)
from monitoring_servers import monitoring, query, until  # noqa: F401  (session fixture)
from sink_helpers import receiver

from secpipe.cli.main import main
from secpipe.scanners.deps.osvdb import import_sources
from servers import free_port

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "request-classifier"
OSV_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "osv"
BOT_TOKEN = "123456789:" + "".join(["AAH", "e2eV4lue", "_-xyzXYZ0123456789"])
ROUTING_KEY = "".join(["R0ut1ng", "e2e", "0" * 22])

pytestmark = [pytest.mark.slow, pytest.mark.server, pytest.mark.external]


def _sinks_block(slack: str, telegram: str, pagerduty: str, hook: str, pushgateway: str,
                 faraday: dict[str, str]) -> str:
    return f"""
sink_drain_seconds: 120
sinks:
  team-slack:
    uses: slack
    with: {{webhook_url: "${{env:SLACK_WEBHOOK_URL}}"}}
  team-telegram:
    uses: telegram
    with: {{bot_token: "${{env:TELEGRAM_BOT_TOKEN}}", chat_id: "-1001234567890",
            api_base: "{telegram}"}}
  oncall:
    uses: pagerduty
    with: {{routing_key: "${{env:PAGERDUTY_ROUTING_KEY}}", api_base: "{pagerduty}",
            environment: production}}
  hook:
    uses: webhook
    with: {{url: "{hook}", retries: 3, backoff: 0.2}}
  metrics:
    uses: prometheus
    with: {{pushgateway: "{pushgateway}"}}
  findings:
    uses: faraday
    with: {{url: "{faraday['url']}", username: "{faraday['username']}",
            password: "${{env:FARADAY_PASSWORD}}", workspace: "secpipe-e2e",
            create_workspace: true}}
"""


def _faraday_api(server: Any, path: str) -> Any:
    basic = base64.b64encode(
        f"{server.extra['username']}:{server.extra['password']}".encode()).decode()
    request = urllib.request.Request(server.url + path, headers={  # noqa: S310 - loopback
        "Authorization": f"Basic {basic}", "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback only
        return json.loads(answer.read())


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback only
        return str(answer.read().decode())


def test_one_mlsecops_run_reaches_every_sink_and_serve_shows_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        monitoring: Any, faraday_server: Any) -> None:  # noqa: F811 - the fixtures above
    root = tmp_path / "request-classifier"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(
        ".secpipe", "data", "artifacts", "__pycache__", ".secpipe-suppressions.yaml"))
    (root / ".secpipe").mkdir()
    import_sources([OSV_FIXTURES], root / ".secpipe" / "osv.sqlite3")
    text = (root / "secpipe.yaml").read_text()
    assert "\n# sinks:" in text  # the example documents the block this test fills in
    with chat_receiver() as slack, chat_receiver(default=telegram_ok()) as telegram, \
            chat_receiver(default=(202, {"Content-Type": "application/json"},
                                   b'{"status":"success","dedup_key":"k"}')) as pagerduty, \
            receiver(fail_first=1) as hook:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", f"{slack.base}/services/T0/B0/x")
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", BOT_TOKEN)
        monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", ROUTING_KEY)
        monkeypatch.setenv("FARADAY_PASSWORD", faraday_server.extra["password"])
        (root / "secpipe.yaml").write_text(text + _sinks_block(
            slack.base, telegram.base, pagerduty.base, hook.url,
            monitoring.pushgateway.url,
            {"url": faraday_server.url, "username": faraday_server.extra["username"]}))
        capsys.readouterr()
        code = main(["run", "mlsecops", "-C", str(root), "--json", "-q"])
        report = json.loads(capsys.readouterr().out)
    run_id = report["run"]["id"]
    # the example's plants fail the scan gate (README): a run with news for every sink
    assert code == 1
    assert {s["id"]: s["status"] for s in report["steps"]}["scan-gate"] == "failed"

    slack_text = json.dumps(slack.bodies())
    assert "scan-gate" in slack_text and run_id in slack_text
    telegram_text = json.dumps(telegram.bodies())
    assert "scan" in telegram_text and all(p.startswith(f"/bot{BOT_TOKEN}/sendMessage")
                                           for p, _ in telegram.requests)
    pages = pagerduty.bodies()
    assert [p["event_action"] for p in pages] == ["trigger"]
    assert pages[0]["routing_key"] == ROUTING_KEY
    assert pages[0]["dedup_key"].endswith("/mlsecops/scan-gate@production")

    # the webhook answered 500 once, then 200: every event arrived exactly once
    kinds = Counter(body["type"] for _, _, body in hook.requests)
    first = hook.requests[0][2]
    assert first["type"] == "run.started" and kinds["run.started"] == 2  # 500, then resent
    delivered = [body for _, _, body in hook.requests[1:]]
    keys = [json.dumps(b, sort_keys=True) for b in delivered]
    assert len(keys) == len(set(keys)), "an event was delivered twice"
    assert Counter(b["type"] for b in delivered)["run.finished"] == 1

    # the Pushgateway group, read back through Prometheus
    series = until(lambda: query(monitoring.prometheus,
                                 'secpipe_gate_passed{pipeline="mlsecops",gate="scan-gate"}'),
                   what="the run's gate verdict in Prometheus")
    assert series[0]["value"][1] == "0"

    # Faraday imported the run's findings
    vulns = _faraday_api(faraday_server, "/_api/v3/ws/secpipe-e2e/vulns")["vulnerabilities"]
    names = {row["value"]["external_id"] for row in vulns}
    assert "scan-secrets secrets.huggingface-token" in names, names  # README plant 1

    # secpipe serve shows the run
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "secpipe", "serve", "-C", str(root), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        page = until(lambda: _try(lambda: _get(f"http://127.0.0.1:{port}/")), timeout=20,
                     what="secpipe serve's runs page")
        assert run_id in page and "mlsecops" in page
        detail = _get(f"http://127.0.0.1:{port}/runs/{run_id}")
        assert "scan-gate" in detail
    finally:
        server.terminate()
        server.wait(10)


def _try(fetch: Any) -> Any:
    try:
        return fetch()
    except OSError:
        time.sleep(0.2)
        return None
