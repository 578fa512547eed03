"""A self-contained HTML report of a run: one page, inline CSS, no external URL, readable with
JavaScript off (a few lines of inline script only add a filter over the findings).

Safety: every string from a run (messages, paths, evidence, tool output) passes ``html.escape``
after its control, bidi and undecodable characters are made visible escapes (a path entirely,
other text keeps its tabs and newlines; :mod:`secpipe.reports.escape`); a
Content-Security-Policy meta tag allows no network fetch at all, images only as ``data:`` URIs,
and only the page's own script (pinned by its SHA-256), so even a missed escape could not load or
run anything. Artifacts are embedded when they are safe to show: ``image/svg+xml`` plots (ROC,
confusion matrix) only when the SVG parses as XML and holds no script, event handler, foreign
reference or entity declaration — then as an ``<img>`` data URI, where browsers run no script
anyway; otherwise they are linked. ``text/markdown`` (a model card) is rendered by a small
escape-first Markdown subset (headings, lists, tables, code, bold), never as raw HTML.
"""

from __future__ import annotations

import base64
import hashlib
import re
import xml.etree.ElementTree as ET
from html import escape
from pathlib import Path

from secpipe.core.artifacts import Artifact
from secpipe.core.findings import Finding
from secpipe.reports.escape import percent_path, printable
from secpipe.reports.markdown import (
    SEVERITIES,
    by_severity,
    metric,
    run_duration,
    seconds,
    severity_counts,
    size,
    when,
)
from secpipe.runstore.records import RunRecord, StepRecord

MAX_SVG_BYTES = 2 << 20
MAX_MARKDOWN_BYTES = 512 << 10
_SCRIPT = (
    "(function(){var q=document.getElementById('q');var b=document.querySelectorAll("
    "'input[data-sev]');function f(){var t=q.value.toLowerCase(),on={};b.forEach(function(x){"
    "on[x.getAttribute('data-sev')]=x.checked});document.querySelectorAll('.finding').forEach("
    "function(e){e.hidden=!(on[e.getAttribute('data-sev')]&&(!t||e.textContent.toLowerCase()"
    ".indexOf(t)>=0))})}q.addEventListener('input',f);b.forEach(function(x){"
    "x.addEventListener('change',f)});document.getElementById('filters').hidden=false})();"
)
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d232a;
background:#f6f7f9}main{max-width:1100px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid
#d6dae0;padding-bottom:4px}h3{font-size:15px;margin:16px 0 6px}
table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0}th,td{border:1px solid
#d6dae0;padding:4px 8px;text-align:left;vertical-align:top}th{background:#eef1f4}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}code{background:#eef1f4;
padding:0 3px;border-radius:3px;word-break:break-all}pre{background:#fff;border:1px solid #d6dae0;
padding:8px;overflow:auto}.cards{display:flex;flex-wrap:wrap;gap:8px;margin:12px 0}
.card{background:#fff;border:1px solid #d6dae0;border-radius:6px;padding:8px 12px;min-width:90px}
.card b{display:block;font-size:20px}.badge{display:inline-block;border-radius:10px;padding:0 8px;
font-size:12px;font-weight:600;color:#fff;background:#6b7480}
.s-critical{background:#7a0019}.s-high{background:#c62828}.s-medium{background:#d97706}
.s-low{background:#2f6fb3}.s-info{background:#6b7480}.st-passed{background:#2e7d32}
.st-failed{background:#c62828}.st-error{background:#7a0019}.st-skipped,.st-running{background:#6b7480}
.st-interrupted{background:#d97706}details.finding{background:#fff;border:1px solid #d6dae0;
border-radius:6px;margin:6px 0;padding:6px 10px}details.finding summary{cursor:pointer}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:8px 0}dt{font-weight:600}
dd{margin:0;white-space:pre-wrap}.muted{color:#5c6670}#filters{margin:8px 0}
figure{background:#fff;border:1px solid #d6dae0;padding:8px;margin:8px 0}figure img{max-width:100%}
.md{background:#fff;border:1px solid #d6dae0;padding:4px 12px}
""".replace("\n", " ")
_BAD_SVG_TAGS = {"script", "foreignobject", "iframe", "object", "embed", "handler", "listener"}
_RASTER_DATA = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*$")
_CSS_URL = re.compile(r"url\(\s*['\"]?\s*(?!#)", re.IGNORECASE)


def _e(value: object) -> str:
    return escape(printable(str(value), keep="\t\n"), quote=True)


def _name(value: str) -> str:
    """A file name or path: every control character visible, a newline too."""
    return escape(printable(value), quote=True)


def _badge(text: str, cls: str) -> str:
    return f'<span class="badge {_e(cls)}">{_e(text)}</span>'


# -- artifacts ---------------------------------------------------------------------------------
def svg_problem(text: str) -> str | None:
    """Why an SVG must not be embedded (None when it is safe to show)."""
    if re.search(r"<!ENTITY|<!DOCTYPE[^>]*\[", text, re.IGNORECASE):
        return "it declares entities"
    try:
        root = ET.fromstring(text)  # noqa: S314 - no entities (checked above), size bounded
    except ET.ParseError as exc:
        return f"it is not well-formed XML ({exc})"
    if root.tag.rsplit("}", 1)[-1] != "svg":
        return "its root element is not <svg>"
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1].lower() if isinstance(el.tag, str) else ""
        if tag in _BAD_SVG_TAGS:
            return f"it contains <{tag}>"
        if tag == "style" and el.text and (_CSS_URL.search(el.text) or "@import" in el.text):
            return "its style sheet loads external content"
        for name, value in el.attrib.items():
            local = name.rsplit("}", 1)[-1].lower()
            val = value.strip().lower()
            if local.startswith("on"):
                return f"it has an event handler attribute ({local})"
            if local in ("href", "src") and not (val.startswith("#")
                                                  or _RASTER_DATA.match(value.strip())):
                return "it references something outside itself"
            if "javascript:" in val or (local == "style" and _CSS_URL.search(value)):
                return "it references something outside itself"
            if tag in ("set", "animate") and local == "attributename" and (
                    val.endswith("href") or val.startswith("on")):
                return "it animates a link or handler"
    return None


def _inline_md(text: str) -> str:
    out = _e(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r"\1 (\2)", out)  # links shown, never followed


def markdown_html(text: str) -> str:
    """A safe subset of Markdown as HTML: everything escaped first, no raw HTML, no links."""
    out: list[str] = []
    in_code, in_list, table = False, False, False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            out.append("</code></pre>" if in_code else "<pre><code>")
            in_code = not in_code
            continue
        if in_code:
            out.append(_e(line))
            continue
        if in_list and not stripped.startswith(("- ", "* ")):
            out.append("</ul>")
            in_list = False
        if table and not stripped.startswith("|"):
            out.append("</table>")
            table = False
        if stripped.startswith("|"):
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            if all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                continue
            cell = "td" if table else "th"
            if not table:
                out.append("<table>")
                table = True
            out.append("<tr>" + "".join(f"<{cell}>{_inline_md(c)}</{cell}>" for c in cells)
                       + "</tr>")
        elif m := re.match(r"^(#{1,6})\s+(.*)$", stripped):
            level = min(len(m.group(1)) + 2, 6)
            out.append(f"<h{level}>{_inline_md(m.group(2))}</h{level}>")
        elif stripped.startswith(("- ", "* ")):
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{_inline_md(stripped[2:])}</li>")
        elif stripped:
            out.append(f"<p>{_inline_md(stripped)}</p>")
    out += ["</code></pre>"] if in_code else []
    out += ["</ul>"] if in_list else []
    out += ["</table>"] if table else []
    return "\n".join(out)


def _local(artifact: Artifact, project: str) -> Path | None:
    if "://" in artifact.path:
        return None
    path = Path(artifact.path)
    return path if path.is_absolute() else Path(project) / path


def _read(path: Path, limit: int) -> tuple[str | None, str]:
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        return None, f"cannot read it ({exc.strerror})"
    if len(data) > limit:
        return None, f"it is larger than {size(limit)}"
    return data.decode("utf-8", "replace"), ""


def _link(path: Path | None, artifact: Artifact, why: str) -> str:
    target = (f'<a href="{_e("file://" + percent_path(str(path)))}">{_name(artifact.path)}</a>'
              if path else f"<code>{_name(artifact.path)}</code>")
    return f'<p>{_e(artifact.name)}: {target} <span class="muted">(not embedded: {_e(why)})' \
           "</span></p>"


def _embed(artifact: Artifact, project: str) -> str:
    path = _local(artifact, project)
    kind = artifact.media_type.split(";")[0].strip().lower()
    if path is None:
        return _link(None, artifact, "not a local file")
    if kind == "image/svg+xml":
        text, why = _read(path, MAX_SVG_BYTES)
        problem = why or (svg_problem(text) if text is not None else "unreadable")
        if problem or text is None:
            return _link(path, artifact, problem or "unreadable")
        data = base64.b64encode(text.encode("utf-8")).decode("ascii")
        return (f'<figure><img alt="{_e(artifact.name)}" src="data:image/svg+xml;base64,{data}">'
                f"<figcaption>{_e(artifact.name)}</figcaption></figure>")
    text, why = _read(path, MAX_MARKDOWN_BYTES)
    if text is None:
        return _link(path, artifact, why)
    return f'<h3>{_e(artifact.name)}</h3><div class="md">{markdown_html(text)}</div>'


# -- sections ----------------------------------------------------------------------------------
def _summary(run: RunRecord) -> str:
    counts = severity_counts(run.findings)
    cards = "".join(f'<div class="card"><b>{n}</b>{_badge(s.value, "s-" + s.value)}</div>'
                    for s, n in counts.items())
    rows = [("Pipeline", _e(run.pipeline)), ("Project", f"<code>{_name(run.project)}</code>"),
            ("Status", _badge(run.status.upper(), "st-" + run.status) +
             (f" exit {_e(run.exit_code)}" if run.exit_code is not None else "")),
            ("Started", _e(when(run.started))), ("Duration", _e(seconds(run_duration(run)))),
            ("secpipe", _e(run.secpipe_version)), ("Findings", str(sum(counts.values())))]
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return (f"<h1>secpipe report: run {_e(run.run_id)}</h1><table>{table}</table>"
            f'<div class="cards">{cards}</div>')


def _steps(run: RunRecord) -> str:
    rows = "".join(
        f"<tr><td>{_e(s.stage)}</td><td>{_e(s.step_id)}</td><td>{_e(s.kind)}</td>"
        f"<td>{_badge(s.status.value.upper(), 'st-' + s.status.value)}</td>"
        f"<td>{_e(seconds(s.duration))}</td><td>{len(s.findings)}</td><td>{_e(s.message)}</td>"
        f"<td>{_e(s.tool)}</td></tr>" for s in run.steps)
    stages = ", ".join(f"{_e(st.name)} ({_e(st.status.value)})" for st in run.stages)
    head = ("<tr><th>Stage</th><th>Step</th><th>Kind</th><th>Status</th><th>Time</th>"
            "<th>Findings</th><th>Message</th><th>Tool</th></tr>")
    body = f"<table>{head}{rows}</table>" if rows else "<p>No step was recorded.</p>"
    order = f'<p class="muted">Stages in order: {stages}</p>' if stages else ""
    return f'<h2 id="steps">Stages and steps</h2>{order}{body}'


def _gates(run: RunRecord) -> str:
    parts = ['<h2 id="gates">Gate decisions</h2>']
    if not run.gates:
        parts.append("<p>No gate ran.</p>")
    for step in run.gates:
        gate = step.gate
        assert gate is not None
        verdict = "PASSED" if gate.passed else "FAILED"
        parts.append(f"<h3>{_e(step.step_id)} {_badge(verdict, 'st-' + verdict.lower())}</h3>"
                     f"<p>Judged {gate.counted} findings; {gate.suppressed} suppressed, "
                     f"{gate.baselined} in the baseline.</p>")
        for title, lines in (("Reasons", gate.reasons), ("Notes", gate.notes)):
            if lines:
                items = "".join(f"<li>{_e(line)}</li>" for line in lines)
                parts.append(f"<p><b>{title}</b></p><ul>{items}</ul>")
    return "".join(parts)


def _finding(f: Finding, accepted: str | None = None) -> str:
    fields = [] if accepted is None else [("Accepted", _e(accepted))]
    fields += [("Rule", f"<code>{_e(f.rule_id)}</code>"), ("Scanner", _e(f.scanner)),
              ("Location", f"<code>{_name(f.location.display())}</code>"),
              ("Confidence", _e(f.confidence.value)), ("Message", _e(f.message))]
    if f.evidence:
        fields.append(("Evidence (redacted)", f"<code>{_e(f.evidence)}</code>"))
    fields.append(("Fingerprint", f"<code>{_e(f.fingerprint)}</code>"))
    if f.tags:
        fields.append(("Tags", _e(", ".join(f.tags))))
    if f.remediation:
        fields.append(("Remediation", _e(f.remediation)))
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in fields)
    sev = f.severity.value
    return (f'<details class="finding" data-sev="{sev}" open><summary>'
            f"{_badge(sev, 's-' + sev)} {_e(f.title or f.rule_id)} "
            f"{'' if accepted is None else _badge('accepted', 's-info') + ' '}"
            f'<span class="muted">{_name(f.location.display())}</span></summary><dl>{dl}</dl>'
            "</details>")


def _findings(run: RunRecord) -> str:
    findings = run.findings
    parts = ['<h2 id="findings">Findings</h2>']
    if not findings:
        return parts[0] + "<p>No findings.</p>"
    boxes = "".join(f'<label><input type="checkbox" data-sev="{s.value}" checked> {s.value}'
                    "</label> " for s in SEVERITIES)
    parts.append(f'<div id="filters" hidden><input id="q" type="search" '
                 f'placeholder="filter findings" aria-label="filter findings"> {boxes}</div>')
    accepted = run.accepted  # computed once: it walks every gate decision
    for sev, group in by_severity(findings):
        parts.append(f"<h3>{_e(sev.value.capitalize())} ({len(group)})</h3>")
        parts.extend(_finding(f, accepted.get(f.fingerprint)) for f in group)
    return "".join(parts)


def _skipped(steps: tuple[StepRecord, ...]) -> str:
    rows = "".join(f"<tr><td>{_e(s.step_id)}</td><td><code>{_name(k.path)}</code></td>"
                   f"<td>{_e(k.reason)}</td></tr>" for s in steps for k in s.skipped)
    if not rows:
        return ""
    return ('<h2 id="skipped">Inputs not fully analysed</h2><table><tr><th>Step</th><th>Path</th>'
            f"<th>Reason</th></tr>{rows}</table>")


def _metrics(steps: tuple[StepRecord, ...]) -> str:
    rows = "".join(f"<tr><td>{_e(s.step_id)}</td><td>{_e(k)}</td><td>{_e(metric(v))}</td></tr>"
                   for s in steps for k, v in sorted(s.metrics.items()))
    if not rows:
        return ""
    return ('<h2 id="metrics">Metrics</h2><table><tr><th>Step</th><th>Metric</th><th>Value</th>'
            f"</tr>{rows}</table>")


def _artifacts(run: RunRecord) -> str:
    listed = [(s, a) for s in run.steps for a in s.artifacts]
    if not listed:
        return ""
    rows = "".join(f"<tr><td>{_e(s.step_id)}</td><td>{_e(a.name)}</td><td>{_e(a.media_type)}"
                   f"</td><td>{_e(size(a.size))}</td><td><code>{_e(a.digest)}</code></td></tr>"
                   for s, a in listed)
    shown = "".join(_embed(a, run.project) for _, a in listed
                    if a.media_type.split(";")[0].strip().lower()
                    in ("image/svg+xml", "text/markdown"))
    return ('<h2 id="artifacts">Artifacts</h2><table><tr><th>Step</th><th>Artifact</th>'
            f"<th>Type</th><th>Size</th><th>Digest</th></tr>{rows}</table>{shown}")


def render(run: RunRecord) -> str:
    digest = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
    csp = (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
           f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'")
    body = "".join([_summary(run), _steps(run), _gates(run), _findings(run),
                    _skipped(run.steps), _metrics(run.steps), _artifacts(run)])
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>secpipe run {_e(run.run_id)}</title><style>{_CSS}</style></head>"
        f"<body><main>{body}</main><script>{_SCRIPT}</script></body></html>\n"
    )
