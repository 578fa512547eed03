"""The dashboard's HTML pages. Every value from the run store passes through
:mod:`secpipe.serve.markup` (escaped); pages load one same-origin style sheet and run no script."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from urllib.parse import quote, urlencode

from secpipe.reports.markdown import metric, run_duration, seconds, when
from secpipe.runstore.records import RunRecord, StepRecord
from secpipe.serve.charts import line_chart
from secpipe.serve.data import (
    MAX_RUNS,
    SEVERITY_ORDER,
    FindingFilter,
    FindingPage,
    RunRow,
    Trends,
    severity_counts,
)
from secpipe.serve.markup import Markup, join, tag

REPORTS = (("html", "HTML"), ("json", "JSON"), ("md", "Markdown"), ("sarif", "SARIF"))
"""Report routes ``/runs/ID/report.EXT`` and their link text."""

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d232a;
background:#f6f7f9}
header{background:#1d232a;color:#fff;padding:8px 24px}header a{color:#fff;margin-right:16px;
text-decoration:none}header a.on{text-decoration:underline}header b{margin-right:24px}
main{max-width:1200px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:24px 0 8px;border-bottom:1px solid #d6dae0}
table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0}
th,td{border:1px solid #d6dae0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4}code{font:12px ui-monospace,Menlo,Consolas,monospace;background:#eef1f4;
padding:0 3px;word-break:break-all}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;
color:#fff;background:#6b7480;margin-right:2px}
.s-critical{background:#7a0019}.s-high{background:#c62828}.s-medium{background:#d97706}
.s-low{background:#2f6fb3}.s-info{background:#6b7480}.st-passed{background:#2e7d32}
.st-failed{background:#c62828}.st-error{background:#7a0019}.st-interrupted{background:#d97706}
.muted{color:#5c6670}.msg{white-space:pre-wrap}form.filters{margin:8px 0}
form.filters label{margin-right:10px}.cards{display:flex;flex-wrap:wrap;gap:8px;margin:12px 0}
.card{background:#fff;border:1px solid #d6dae0;border-radius:6px;padding:8px 12px;min-width:90px;
color:inherit;text-decoration:none}.card b{display:block;font-size:20px}
.chart-box{background:#fff;border:1px solid #d6dae0;padding:8px;margin:8px 0}
.chart{width:100%;height:auto}.chart .grid{stroke:#e3e6ea}.chart .axis{font-size:11px;
fill:#5c6670}.legend-item{margin-left:12px}.swatch{vertical-align:middle;margin-right:4px}
.gate{background:#fff;border:1px solid #d6dae0;border-radius:6px;padding:6px 12px;margin:8px 0}
.pager a{margin-right:12px}
""".strip()


def url(*segments: str, **query: str) -> str:
    """``/seg/seg?k=v`` with every segment and value percent-encoded."""
    path = "/" + "/".join(quote(s, safe="") for s in segments)
    return path + ("?" + urlencode(query) if query else "")


def badge(text: str, cls: str) -> Markup:
    return tag("span", text, class_=f"badge {cls}")


def status_badge(status: str) -> Markup:
    return badge(status.upper(), "st-" + status)


def page(title: str, body: Iterable[Markup], active: str = "") -> Markup:
    """A whole document: no script, one same-origin style sheet, the navigation bar."""
    nav = [tag("b", "secpipe")] + [
        tag("a", text, href=href, class_="on" if key == active else None)
        for key, text, href in (("runs", "Runs", "/"), ("trends", "Trends", "/trends"),
                                ("findings", "Latest findings", url("runs", "latest",
                                                                    "findings")))]
    head = tag("head", tag("meta", charset="utf-8"),
               tag("meta", name="viewport", content="width=device-width, initial-scale=1"),
               tag("meta", name="referrer", content="no-referrer"),
               tag("title", f"{title} · secpipe"),
               tag("link", rel="icon", href="data:,"),
               tag("link", rel="stylesheet", href="/static/style.css"))
    html = tag("html", head, tag("body", tag("header", tag("nav", *nav)), tag("main", *body)),
               lang="en")
    return Markup("<!DOCTYPE html>\n" + html + "\n")


def _counts_cells(counts: Mapping[str, int]) -> Markup:
    shown = [badge(f"{counts[s]} {s}", "s-" + s) for s in SEVERITY_ORDER if counts.get(s)]
    return join(shown) if shown else tag("span", "none", class_="muted")


# -- runs --------------------------------------------------------------------------------------
def runs_page(rows: list[RunRow], pipeline: str, limit: int, store_missing: bool) -> Markup:
    form = tag("form", tag("label", "Pipeline ", tag("input", name="pipeline", value=pipeline,
                                                      maxlength=200)),
               tag("label", "Show ", tag("input", name="limit", value=str(limit), type="number",
                                         min=1, max=MAX_RUNS), " runs"),
               tag("button", "Apply", type="submit"), method="get", action="/",
               class_="filters")
    body: list[Markup] = [tag("h1", "Runs"), form]
    if store_missing:
        body.append(tag("p", "No run store yet: no run has been recorded in this project. "
                             "Run ", tag("code", "secpipe run"), " first.", id="empty"))
    elif not rows:
        body.append(tag("p", "No runs recorded yet.", id="empty"))
    else:
        head = tag("tr", *(tag("th", h) for h in ("Run", "Pipeline", "Status", "Started",
                                                  "Duration", "Findings", "Exit")))
        trs = (tag("tr", tag("td", tag("a", r.run.run_id, href=url("runs", r.run.run_id))),
                   tag("td", r.run.pipeline), tag("td", status_badge(r.run.status)),
                   tag("td", when(r.run.started)), tag("td", seconds(run_duration(r.run))),
                   tag("td", _counts_cells(r.counts)),
                   tag("td", "—" if r.run.exit_code is None else str(r.run.exit_code)),
                   class_="run", data_run=r.run.run_id)
               for r in rows)
        body.append(tag("table", head, trs, id="runs"))
    return page("Runs", body, "runs")


# -- trends ------------------------------------------------------------------------------------
def trends_page(data: Trends, pipeline: str, limit: int, metric: str = "") -> Markup:
    form = tag("form", tag("label", "Pipeline ", tag("input", name="pipeline", value=pipeline,
                                                      maxlength=200)),
               tag("label", "Metric ", tag("input", name="metric", value=metric,
                                           maxlength=200, placeholder="name contains")),
               tag("label", "Last ", tag("input", name="limit", value=str(limit), type="number",
                                         min=1, max=MAX_RUNS), " runs"),
               tag("button", "Apply", type="submit"), method="get", action="/trends",
               class_="filters")
    body: list[Markup] = [tag("h1", "Trends"), form]
    if not data.runs:
        body.append(tag("p", "No runs recorded yet.", id="empty"))
        return page("Trends", body, "trends")
    labels = [r.run_id for r in data.runs]
    ticks = [time.strftime("%m-%d %H:%M", time.gmtime(r.started)) for r in data.runs]
    body.append(tag("h2", "Findings by severity"))
    body.append(tag("div", line_chart("Distinct findings per run, by severity", labels,
                                      data.severities, ticks=ticks), id="severity-trend"))
    body.append(tag("h2", "Model metrics"))
    if not data.metrics:
        body.append(tag("p", "No step of these runs recorded a metric.", class_="muted"))
    for name, values in data.metrics.items():
        body.append(tag("div", line_chart(name, labels, {name: values}, ticks=ticks,
                                   start_at_zero=False),
                        class_="metric-trend", data_metric=name))
    if data.more_metrics:
        body.append(tag("p", f"{data.more_metrics} more metric series not shown.",
                        class_="muted"))
    return page("Trends", body, "trends")


# -- one run -----------------------------------------------------------------------------------
def _steps_table(steps: tuple[StepRecord, ...]) -> Markup:
    if not steps:
        return tag("p", "No step was recorded.", class_="muted")
    head = tag("tr", *(tag("th", h) for h in ("Stage", "Step", "Kind", "Status", "Time",
                                              "Findings", "Message", "Tool")))
    rows = (tag("tr", tag("td", s.stage), tag("td", s.step_id), tag("td", s.kind),
                tag("td", status_badge(s.status.value)), tag("td", seconds(s.duration)),
                tag("td", str(len(s.findings))), tag("td", s.message, class_="msg"),
                tag("td", s.tool), class_="step")
            for s in steps)
    return tag("table", head, rows, id="steps")


def _gates(run: RunRecord) -> list[Markup]:
    out = [tag("h2", "Gate decisions", id="gates")]
    if not run.gates:
        out.append(tag("p", "No gate ran.", class_="muted"))
    for step in run.gates:
        gate = step.gate
        assert gate is not None
        verdict = "passed" if gate.passed else "failed"
        parts = [tag("h3", step.step_id, " ", status_badge(verdict)),
                 tag("p", f"Judged {gate.counted} findings; {gate.suppressed} suppressed, "
                          f"{gate.baselined} in the baseline.")]
        for title, lines in (("Reasons", gate.reasons), ("Notes", gate.notes)):
            if lines:
                parts.append(tag("p", tag("b", title)))
                parts.append(tag("ul", (tag("li", line) for line in lines),
                                 class_=title.lower()))
        out.append(tag("div", *parts, class_="gate", data_verdict=verdict, data_step=step.step_id))
    return out


def run_page(run: RunRecord) -> Markup:
    counts = severity_counts(run.findings)
    summary = tag("table", *(tag("tr", tag("th", k), tag("td", v)) for k, v in (
        ("Pipeline", run.pipeline), ("Project", tag("code", run.project)),
        ("Status", join([status_badge(run.status),
                         "" if run.exit_code is None else f" exit {run.exit_code}"])),
        ("Started", when(run.started)), ("Duration", seconds(run_duration(run))),
        ("secpipe", run.secpipe_version))), id="summary")
    cards = tag("div", *(tag("a", tag("b", str(counts[s])), badge(s, "s-" + s), class_="card",
                             href=url("runs", run.run_id, "findings", severity=s))
                         for s in SEVERITY_ORDER), class_="cards")
    reports = tag("p", "Reports: ", join(
        [tag("a", text, href=url("runs", run.run_id, f"report.{ext}"), class_="report")
         for ext, text in REPORTS], " · "), id="reports")
    stages = tag("table", tag("tr", tag("th", "#"), tag("th", "Stage"), tag("th", "Status")),
                 (tag("tr", tag("td", str(st.index + 1)), tag("td", st.name),
                      tag("td", status_badge(st.status.value))) for st in run.stages),
                 id="stages") if run.stages else tag("p", "No stage was recorded.",
                                                     class_="muted")
    metrics = [(s.step_id, k, v) for s in run.steps for k, v in sorted(s.metrics.items())]
    body: list[Markup] = [
        tag("h1", "Run ", run.run_id), summary,
        tag("h2", "Findings"), cards,
        tag("p", tag("a", f"All {sum(counts.values())} findings",
                     href=url("runs", run.run_id, "findings"), id="all-findings")),
        reports, tag("h2", "Stages"), stages, tag("h2", "Steps"), _steps_table(run.steps),
        *_gates(run)]
    if metrics:
        body += [tag("h2", "Metrics"), tag("table", tag("tr", tag("th", "Step"),
                                                        tag("th", "Metric"), tag("th", "Value")),
                                           (tag("tr", tag("td", a), tag("td", b),
                                                tag("td", metric(c))) for a, b, c in metrics),
                                           id="metrics")]
    return page(f"Run {run.run_id}", body)


# -- findings ----------------------------------------------------------------------------------
def findings_page(run: RunRecord, flt: FindingFilter, found: FindingPage) -> Markup:
    sev_select = tag("select", tag("option", "any", value=""),
                     (tag("option", s, value=s, selected=s == flt.severity)
                      for s in SEVERITY_ORDER), name="severity")
    scanners = list(found.scanners)
    if flt.scanner and flt.scanner not in scanners:
        scanners.append(flt.scanner)
    scan_select = tag("select", tag("option", "any", value=""),
                      (tag("option", s, value=s, selected=s == flt.scanner) for s in scanners),
                      name="scanner")
    form = tag("form",
               tag("label", "Severity ", sev_select), tag("label", "Scanner ", scan_select),
               tag("label", "Rule ", tag("input", name="rule", value=flt.rule, maxlength=200)),
               tag("label", "Text ", tag("input", name="q", value=flt.text, maxlength=200,
                                         type="search")),
               tag("button", "Filter", type="submit"), " ",
               tag("a", "clear", href=url("runs", run.run_id, "findings")),
               method="get", action=url("runs", run.run_id, "findings"), class_="filters",
               id="filters")
    accepted = run.accepted
    body: list[Markup] = [
        tag("h1", "Findings of run ", tag("a", run.run_id, href=url("runs", run.run_id))), form,
        tag("p", f"{found.total} finding{'' if found.total == 1 else 's'} match"
                 f" (page {found.page} of {found.pages}).", id="count")]
    if found.items:
        head = tag("tr", *(tag("th", h) for h in ("Severity", "Rule", "Title", "Location",
                                                  "Scanner", "Message", "Evidence")))
        rows = (tag("tr", tag("td", badge(f.severity.value, "s-" + f.severity.value),
                              badge("accepted", "s-info") if f.fingerprint in accepted else None),
                    tag("td", tag("code", f.rule_id)), tag("td", f.title),
                    tag("td", tag("code", f.location.display())), tag("td", f.scanner),
                    tag("td", f.message, class_="msg"),
                    tag("td", tag("code", f.evidence) if f.evidence else ""),
                    class_="finding", data_severity=f.severity.value,
                    data_fingerprint=f.fingerprint, title=accepted.get(f.fingerprint))
                for f in found.items)
        body.append(tag("table", head, rows, id="findings"))
    pager = []
    if found.page > 1:
        pager.append(tag("a", "← previous", rel="prev", href=url(
            "runs", run.run_id, "findings", **flt.query(found.page - 1))))
    if found.page < found.pages:
        pager.append(tag("a", "next →", rel="next", href=url(
            "runs", run.run_id, "findings", **flt.query(found.page + 1))))
    if pager:
        body.append(tag("p", *pager, class_="pager"))
    return page(f"Findings of run {run.run_id}", body, "findings")


def error_page(status: int, title: str, detail: str) -> Markup:
    return page(title, [tag("h1", f"{status} {title}"), tag("p", detail, id="error")])
