"""The prometheus sink and the shipped monitoring files against a real Pushgateway, Prometheus
and Alertmanager (tests/sinks/monitoring_servers.py starts them once per test process):
a run's push is read back through Prometheus, the shipped alert rules fire "gate failed" and the
alert reaches a webhook receiver through Alertmanager, and every Grafana panel's query is
accepted by Prometheus."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from monitoring_servers import Monitoring, api, monitoring, query, until
from sink_helpers import RUN, context, run_events

from built_secrets import github_token
from secpipe.cli.main import main
from secpipe.core.events import Event, RunFinished, RunStarted, StepFinished
from secpipe.monitoring import ASSETS, DASHBOARD_UID, asset
from secpipe.sinks import SinkBus
from secpipe.sinks.prometheus import PrometheusSettings, PrometheusSink

__all__ = ["monitoring"]  # the session fixture, imported for pytest

PROMTOOL = pytest.mark.skipif(shutil.which("promtool") is None,
                              reason="promtool is not installed (apt-get install prometheus)")
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def _run(events: list[Event], pipeline: str, project: str, status: str = "failed",
         ) -> list[Event]:
    """``events`` as a run of ``pipeline`` / ``project`` that ended with ``status``."""
    out: list[Event] = []
    for event in events:
        if isinstance(event, RunStarted):
            event = RunStarted(RUN, pipeline=pipeline, project=project,
                               stage_names=event.stage_names, stages=event.stages)
        elif isinstance(event, RunFinished):
            event = RunFinished(RUN, pipeline=pipeline, status=status,
                                exit_code=0 if status == "passed" else 1)
        out.append(event)
    return out


def _deliver(servers: Monitoring, events: list[Event], **options: Any) -> SinkBus:
    sink = PrometheusSink(PrometheusSettings(pushgateway=servers.pushgateway.url, **options),
                          context("metrics"))
    bus = SinkBus([sink])
    for event in events:
        bus.emit(event)
    bus.close(10)
    assert bus.failures == []
    return bus


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- static checks of the shipped files (promtool / amtool only) --------------------------------
def test_shipped_files_exist() -> None:
    for name in ASSETS:
        assert asset(name).is_file(), name


@PROMTOOL
def test_promtool_checks_the_alert_rules() -> None:
    done = subprocess.run(["promtool", "check", "rules", str(asset("alerts.yml"))],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 6 rules found" in done.stdout
    names = {r["alert"] for g in yaml.safe_load(asset("alerts.yml").read_text())["groups"]
             for r in g["rules"]}
    assert {"SecpipeGateFailed", "SecpipePipelineSilent", "SecpipeNoPassingRun",
            "SecpipeMetricsPushFailed"} <= names


@PROMTOOL
def test_promtool_checks_the_example_prometheus_config(tmp_path: Any) -> None:
    shutil.copy(asset("prometheus.example.yml"), tmp_path / "prometheus.yml")
    shutil.copy(asset("alerts.yml"), tmp_path / "alerts.yml")
    done = subprocess.run(["promtool", "check", "config", str(tmp_path / "prometheus.yml")],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("amtool") is None,
                    reason="amtool is not installed (apt-get install prometheus-alertmanager)")
def test_amtool_checks_the_example_alertmanager_config() -> None:
    done = subprocess.run(["amtool", "check-config", str(asset("alertmanager.example.yml"))],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(asset("grafana/secpipe-dashboard.json").read_text())
    return data


def test_dashboard_is_well_formed() -> None:
    dash = _dashboard()
    assert dash["uid"] == DASHBOARD_UID
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)) >= 10
    for panel in dash["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            used = {a or b for a, b in _VARIABLE.findall(target["expr"])}
            assert used <= set(variables), (panel["title"], used)
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24
    provider = yaml.safe_load(
        asset("grafana/provisioning/dashboards/secpipe.yml").read_text())
    assert provider["apiVersion"] == 1 and provider["providers"][0]["type"] == "file"
    sources = yaml.safe_load(
        asset("grafana/provisioning/datasources/prometheus.yml").read_text())
    assert sources["datasources"][0]["type"] == "prometheus"


def _expr(text: str, pipeline: str = ".*", project: str = ".*") -> str:
    """A panel query as Grafana sends it with the variables chosen."""
    values = {"pipeline": pipeline, "project": project}
    return _VARIABLE.sub(lambda m: values[m.group(1) or m.group(2)], text)


# -- real servers -------------------------------------------------------------------------------
@pytest.mark.server
@pytest.mark.external
def test_push_is_read_back_through_prometheus(monitoring: Monitoring) -> None:
    pipeline, project = _unique("readback"), "team/app one"  # the project needs @base64
    _deliver(monitoring, _run(run_events(), pipeline, project))
    sel = f'pipeline="{pipeline}", project="{project}"'
    gate = until(lambda: query(monitoring.prometheus, f"secpipe_gate_passed{{{sel}}}"),
                 what="the gate verdict in Prometheus")
    assert gate[0]["metric"]["job"] == "secpipe"
    assert gate[0]["metric"]["gate"] == "gate"
    assert gate[0]["value"][1] == "0"
    high = query(monitoring.prometheus, f'secpipe_findings{{{sel}, severity="high"}}')
    assert high[0]["value"][1] == "1"
    step = query(monitoring.prometheus,
                 f'secpipe_step_duration_seconds{{{sel}, step="scan-secrets"}}')
    assert float(step[0]["value"][1]) == 1.25
    assert query(monitoring.prometheus, f"secpipe_last_success_timestamp_seconds{{{sel}}}") == []


@pytest.mark.server
@pytest.mark.external
def test_next_run_replaces_the_group(monitoring: Monitoring) -> None:
    pipeline = _unique("replace")
    sel = f'pipeline="{pipeline}", project="demo"'
    _deliver(monitoring, _run(run_events(), pipeline, "demo", "failed"))
    only_first = [e for e in _run(run_events(), pipeline, "demo", "passed")
                  if getattr(e, "step", None) != "gate"]  # the second run has no gate step
    _deliver(monitoring, only_first)

    def replaced() -> bool:
        gates = query(monitoring.prometheus, f"secpipe_gate_passed{{{sel}}}")
        ok = query(monitoring.prometheus, f'secpipe_run_status{{{sel}, status="passed"}} == 1')
        return not gates and bool(ok)
    until(replaced, what="the second run replacing the first")
    success = until(lambda: query(monitoring.prometheus,
                                  f"secpipe_last_success_timestamp_seconds{{{sel}}}"),
                    what="the last success timestamp")
    assert success[0]["metric"]["outcome"] == "passed"


@pytest.mark.server
@pytest.mark.external
def test_prometheus_loads_the_rules_and_gate_failed_reaches_the_receiver(
        monitoring: Monitoring) -> None:
    groups = api(monitoring.prometheus, "/api/v1/rules")["groups"]
    rules = {r["name"]: r for g in groups for r in g["rules"]}
    assert len(rules) == 6
    assert all(r["health"] in ("ok", "unknown") for r in rules.values()), rules
    pipeline = _unique("alerting")
    _deliver(monitoring, _run(run_events(), pipeline, "demo"))

    def firing() -> list[dict[str, Any]]:
        alerts = api(monitoring.prometheus, "/api/v1/alerts")["alerts"]
        return [a for a in alerts if a["labels"].get("pipeline") == pipeline
                and a["labels"]["alertname"] == "SecpipeGateFailed" and a["state"] == "firing"]
    alert = until(firing, what="SecpipeGateFailed firing in Prometheus")[0]
    assert alert["labels"]["gate"] == "gate" and alert["labels"]["severity"] == "critical"

    def received() -> list[dict[str, Any]]:
        return [a for a in monitoring.receiver.alerts()
                if a["labels"].get("pipeline") == pipeline
                and a["labels"]["alertname"] == "SecpipeGateFailed"]
    got = until(received, timeout=30, what="the alert at the Alertmanager webhook receiver")[0]
    assert got["status"] == "firing"
    assert got["labels"]["project"] == "demo"
    assert pipeline in got["annotations"]["summary"]


@pytest.mark.server
@pytest.mark.external
def test_every_dashboard_query_runs_on_prometheus(monitoring: Monitoring) -> None:
    pipeline = _unique("dashboard")
    _deliver(monitoring, _run(run_events(), pipeline, "demo", "passed"))
    until(lambda: query(monitoring.prometheus,
                        f'secpipe_last_success_timestamp_seconds{{pipeline="{pipeline}"}}'),
          what="the pushed run")
    dash = _dashboard()
    for variable in dash["templating"]["list"]:
        if variable["type"] == "query":
            text = variable["query"]["query"]
            inner = re.fullmatch(r"label_values\((.*), (\w+)\)", text)
            assert inner, text
            series = api(monitoring.prometheus, "/api/v1/series",
                         **{"match[]": _expr(inner.group(1))})
            wanted = {"pipeline": pipeline, "project": "demo"}[variable["name"]]
            assert wanted in {s.get(inner.group(2)) for s in series}, variable["name"]
    empty: list[str] = []
    for panel in dash["panels"]:
        for target in panel["targets"]:
            result = query(monitoring.prometheus, _expr(target["expr"], pipeline, "demo"))
            if not result:
                empty.append(panel["title"])
    # the run has no model metrics, no unanalysed inputs, every step passed: those are empty
    assert set(empty) <= {"Model metrics", "Inputs not fully analysed (last run)",
                          "Steps not passed (last run)"}, empty
    assert "Gate verdicts" not in empty and "Findings by severity" not in empty


@pytest.mark.server
@pytest.mark.external
def test_a_refused_push_is_a_sink_failure_and_fires_push_failed(monitoring: Monitoring) -> None:
    # another client pushed the same series (job, pipeline, project, no other label) from its
    # own group: the Pushgateway's consistency check refuses secpipe's push as a duplicate
    pipeline = _unique("refused")
    polluter = f"{monitoring.pushgateway.url}/metrics/job/secpipe/pipeline/{pipeline}"
    request = urllib.request.Request(  # noqa: S310 - loopback
        polluter, method="PUT",
        data=b'# TYPE secpipe_run_exit_code gauge\nsecpipe_run_exit_code{project="demo"} 0\n')
    urllib.request.urlopen(request, timeout=5).close()  # noqa: S310 - loopback
    try:
        sink = PrometheusSink(PrometheusSettings(pushgateway=monitoring.pushgateway.url),
                              context("metrics"))
        bus = SinkBus([sink])
        for event in _run(run_events(), pipeline, "demo"):
            bus.emit(event)
        bus.close(10)
    finally:
        urllib.request.urlopen(urllib.request.Request(  # noqa: S310 - loopback
            polluter, method="DELETE"), timeout=5).close()
    assert len(bus.failures) == 1
    line = bus.failures[0]
    assert "after 1 attempt(s)" in line and "HTTP 400" in line, line
    assert "inconsistent with existing metrics" in line, line

    def firing() -> list[dict[str, Any]]:
        alerts = api(monitoring.prometheus, "/api/v1/alerts")["alerts"]
        return [a for a in alerts if a["labels"].get("pipeline") == pipeline
                and a["labels"]["alertname"] == "SecpipeMetricsPushFailed"]
    until(firing, what="SecpipeMetricsPushFailed in Prometheus")


RUN_CONFIG = """
sinks:
  metrics:
    uses: prometheus
    with: {{pushgateway: "{url}", project: "{project}", grouping: {{environment: ci}}}}
pipelines:
  {pipeline}:
    stages:
      - name: scan
        steps: [{{uses: scan-secrets, with: {{cache: false}}}}]
      - name: gate
        steps: [{{uses: gate}}]
"""


@pytest.mark.server
@pytest.mark.external
def test_a_secpipe_run_is_read_back_through_prometheus(monitoring: Monitoring,
                                                       project: Path) -> None:
    (project / "app.py").write_text(f"TOKEN = '{github_token(random.Random(7))}'\n")
    pipeline = _unique("e2e")
    (project / "secpipe.yaml").write_text(RUN_CONFIG.format(
        url=monitoring.pushgateway.url, project="e2e-demo", pipeline=pipeline))
    assert main(["run", pipeline, "-C", str(project), "-q"]) == 1  # the gate fails
    sel = f'pipeline="{pipeline}", project="e2e-demo", environment="ci"'
    gate = until(lambda: query(monitoring.prometheus, f"secpipe_gate_passed{{{sel}}} == 0"),
                 what="the run's gate verdict")
    assert gate[0]["metric"]["stage"] == "gate"
    findings = query(monitoring.prometheus, f"sum(secpipe_findings{{{sel}}})")
    assert float(findings[0]["value"][1]) >= 1
    steps = query(monitoring.prometheus, f"secpipe_step_duration_seconds{{{sel}}}")
    assert {s["metric"]["step"] for s in steps} == {"scan-secrets", "gate"}
    assert query(monitoring.prometheus, f'secpipe_run_status{{{sel}, status="failed"}} == 1')


@pytest.mark.server
@pytest.mark.external
@pytest.mark.skipif("metrics" not in StepFinished.__dataclass_fields__,
                    reason="step.finished does not carry the step's metrics yet "
                           "(core/events.py: StepFinished.metrics)")
def test_step_metrics_of_a_run_reach_prometheus(monitoring: Monitoring, project: Path) -> None:
    (project / "app.py").write_text("print('hello')\n")
    pipeline = _unique("metrics")
    (project / "secpipe.yaml").write_text(RUN_CONFIG.format(
        url=monitoring.pushgateway.url, project="e2e-demo", pipeline=pipeline))
    assert main(["run", pipeline, "-C", str(project), "-q"]) == 0
    sel = f'pipeline="{pipeline}", step="scan-secrets"'
    until(lambda: query(monitoring.prometheus, f"secpipe_step_metric{{{sel}}}"),
          what="the scan step's metrics")


@pytest.mark.server
@pytest.mark.external
def test_notify_test_reaches_the_pushgateway_and_cleans_up(
        monitoring: Monitoring, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "secpipe.yaml").write_text(RUN_CONFIG.format(
        url=monitoring.pushgateway.url, project="notify-demo", pipeline="p"))
    assert main(["notify", "test", "metrics", "-C", str(project)]) == 0
    assert "delivered test run.finished" in capsys.readouterr().out
    groups = api(monitoring.pushgateway, "/api/v1/metrics")
    assert not [g for g in groups if g["labels"].get("pipeline") == "notify-test"]
