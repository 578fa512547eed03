"""HTML report: one self-contained page, everything escaped, safe embedding of artifacts."""

from __future__ import annotations

import base64
import dataclasses
import re
import subprocess
from pathlib import Path

import pytest
from html_check import parse
from sample_run import build_run

from secpipe.core.artifacts import Artifact
from secpipe.core.findings import Finding, Location, Severity
from secpipe.reports import html
from secpipe.runstore.records import RunRecord

CHROMIUM = Path("/usr/bin/chromium")


def hostile_run(tmp_path: Path) -> RunRecord:
    run = build_run(tmp_path)
    evil = Finding.create(
        rule_id="evil<script>alert('rule')</script>", title="<script>alert('title')</script>",
        severity=Severity.CRITICAL, scanner="exec:<b>x</b>",
        location=Location(path="src/<script>alert('path')</script>.py", line=1,
                          member='"><img src=x onerror=alert(1)>'),
        message="<script>alert('message')</script> & \"quotes\"",
        evidence="</code><script>alert('evidence')</script>", key="evil",
        remediation="<iframe src='https://evil.example'></iframe>")
    first = dataclasses.replace(run.steps[0], findings=(*run.steps[0].findings, evil),
                                message="<script>alert('step')</script>")
    return dataclasses.replace(run, steps=(first, *run.steps[1:]),
                               pipeline="<script>alert('pipeline')</script>")


def test_page_is_well_formed_and_self_contained(sample_run: RunRecord) -> None:
    page = html.render(sample_run)
    parser = parse(page)
    assert page.startswith("<!DOCTYPE html>")
    for tag, attrs in parser.tags:
        for name in ("src", "href", "action"):
            value = attrs.get(name) or ""
            assert not re.match(r"^\s*(https?:)?//", value), f"<{tag} {name}={value}>"
        assert tag not in ("link", "iframe", "object", "embed")
    assert len(parser.scripts) == 1  # only our own filter script
    csp = next(a["content"] for t, a in parser.tags if a.get("http-equiv") ==
               "Content-Security-Policy")
    assert csp is not None and "default-src 'none'" in csp and "img-src data:" in csp


def test_sections_and_content(sample_run: RunRecord) -> None:
    page = html.render(sample_run)
    for anchor in ("steps", "gates", "findings", "skipped", "metrics", "artifacts"):
        assert f'id="{anchor}"' in page
    assert "2 critical findings (fail_on high)" in page
    assert "suppression for secrets.jwt expired on 2026-01-01" in page
    assert "AKIA************MPLE" in page
    assert "notebooks/train.ipynb!cell[3]/outputs[0]:2" in page
    assert "data/huge.bin" in page and "too large" in page
    assert ">accuracy<" in page and ">0.97<" in page
    for f in sample_run.findings:
        assert f.fingerprint in page
    assert page.count('class="finding"') == len(sample_run.findings)


def test_every_user_string_is_escaped(tmp_path: Path) -> None:
    page = html.render(hostile_run(tmp_path))
    parser = parse(page)
    assert len(parser.scripts) == 1
    assert "<script>alert" not in page and "<iframe" not in page
    assert "<b>x</b>" not in page and "<img src=x" not in page
    for who in ("rule", "title", "path", "message", "evidence", "step", "pipeline"):
        assert f"&lt;script&gt;alert(&#x27;{who}&#x27;)&lt;/script&gt;" in page
    assert all(tag != "iframe" and "onerror" not in attrs for tag, attrs in parser.tags)


def test_svg_plot_embedded_as_data_image_and_unsafe_svg_linked(sample_run: RunRecord) -> None:
    page = html.render(sample_run)
    parser = parse(page)
    images = [a for t, a in parser.tags if t == "img"]
    assert [a["alt"] for a in images] == ["roc"]
    src = images[0]["src"] or ""
    assert src.startswith("data:image/svg+xml;base64,")
    assert b"ROC AUC 0.97" in base64.b64decode(src.split(",", 1)[1])
    assert "evil-plot" in page and "not embedded: it contains &lt;script&gt;" in page
    assert "alert(1)" not in page


@pytest.mark.parametrize(("svg", "reason"), [
    ('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "event handler"),
    ('<svg xmlns="http://www.w3.org/2000/svg"><image href="https://x.example/a.png"/></svg>',
     "outside"),
    ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:l="http://www.w3.org/1999/xlink">'
     '<a l:href="javascript:alert(1)"><text>x</text></a></svg>', "outside"),
    ('<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><div>x</div></foreignObject></svg>',
     "foreignobject"),
    ('<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(https://x.example/a.css);'
     "</style></svg>", "style sheet"),
    ('<svg xmlns="http://www.w3.org/2000/svg"><rect style="fill:url(https://x.example/p)"/>'
     "</svg>", "outside"),
    ('<svg xmlns="http://www.w3.org/2000/svg"><set attributeName="href" to="javascript:x"/>'
     "</svg>", "animates"),
    ('<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>',
     "entities"),
    ("<svg xmlns='http://www.w3.org/2000/svg'><rect", "well-formed"),
    ('<html xmlns="http://www.w3.org/1999/xhtml"/>', "not <svg>"),
])
def test_svg_sanitiser_refuses(svg: str, reason: str) -> None:
    problem = html.svg_problem(svg)
    assert problem is not None and reason in problem


def test_svg_sanitiser_accepts_plots_with_inline_rasters() -> None:
    png = "data:image/png;base64,iVBORw0KGgo="
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
           f'<image xlink:href="{png}" width="4" height="4"/><use xlink:href="#a"/></svg>')
    assert html.svg_problem(svg) is None


def test_model_card_rendered_as_escaped_markdown(sample_run: RunRecord) -> None:
    page = html.render(sample_run)
    assert "<h3>Model card: request-classifier</h3>" in page
    assert "<strong>logistic regression</strong>" in page
    assert "<th>metric</th><th>value</th>" in page
    assert "<td>accuracy</td><td>0.97</td>" in page
    assert "<code>payloads.csv</code>" in page
    assert "&lt;script&gt;alert(&#x27;card&#x27;)&lt;/script&gt;" in page
    assert "docs (https://example.invalid/card)" in page  # shown, not a link
    assert 'href="https://example.invalid' not in page


def test_oversized_or_missing_artifact_is_linked_not_embedded(tmp_path: Path) -> None:
    run = build_run(tmp_path)
    big = tmp_path / "big.svg"
    big.write_text('<svg xmlns="http://www.w3.org/2000/svg">' + " " * html.MAX_SVG_BYTES + "</svg>")
    gone = Artifact(name="gone", path=str(tmp_path / "missing.md"), digest="sha256:00", size=1,
                    media_type="text/markdown")
    extra = (Artifact.from_file("big-plot", big, "image/svg+xml"), gone)
    step = dataclasses.replace(run.steps[4], artifacts=extra)
    page = html.render(dataclasses.replace(run, steps=(*run.steps[:4], step, *run.steps[5:])))
    parse(page)
    assert "big-plot" in page and "not embedded: it is larger than" in page
    assert "not embedded: cannot read it" in page


def test_no_findings_says_so(tmp_path: Path) -> None:
    page = html.render(build_run(tmp_path, findings=False))
    parse(page)
    assert "<p>No findings.</p>" in page
    assert "safe" not in page.lower().replace("unsafe-inline", "")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed")
def test_renders_in_headless_chromium(tmp_path: Path) -> None:
    page_path = tmp_path / "report.html"
    page_path.write_text(html.render(hostile_run(tmp_path)), encoding="utf-8")
    shot = tmp_path / "shot.png"
    profile = tmp_path / "profile"
    proc = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={profile}", "--window-size=1200,2000",
         f"--screenshot={shot}", page_path.as_uri()],
        capture_output=True, text=True, timeout=90, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    dumped = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={profile}", "--dump-dom", page_path.as_uri()],
        capture_output=True, text=True, timeout=90, check=False)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    assert "secpipe report: run" in dom
    # the page's own script ran (CSP allowed it) and un-hid the filter bar; nothing planted ran
    assert re.search(r'<div id="filters">', dom), "filter script did not run"
    assert "<script>alert" not in dom
