"""The dashboard in a real headless browser: Debian's Chromium driven by Playwright (never a
downloaded browser: ``executable_path`` is /usr/bin/chromium). Clicks through the pages as a
person would, and checks that nothing on them can run script."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_client import Recorded
from serve_project import ACCURACY

from secpipe.serve import Dashboard

CHROMIUM = Path("/usr/bin/chromium")
playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--no-proxy-server"])
        yield chromium
        chromium.close()


class Watched:
    """A page and every console error, uncaught error and failed request it had."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(java_script_enabled=True)
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}")
                     if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    w = Watched(browser)
    yield w
    w.close()


def test_click_from_runs_to_a_gate_decision(server: Dashboard, recorded: Recorded,
                                            watched: Watched, tmp_path: Path) -> None:
    page = watched.page
    page.goto(f"http://127.0.0.1:{server.port}/")
    assert page.title() == "Runs · secpipe"
    rows = page.locator("#runs tr.run")
    assert rows.count() == 3
    oldest = recorded.runs[0]
    assert "FAILED" in rows.nth(2).inner_text()
    page.get_by_role("link", name=oldest).click()
    page.wait_for_url(re.compile(rf"/runs/{oldest}$"))
    gate = page.locator(".gate")
    assert gate.get_attribute("data-verdict") == "failed"
    assert "FAILED" in gate.inner_text() and "at high or worse" in gate.inner_text()
    assert page.locator("#stages tr").count() == 3  # header and two stages
    # styles came from the same-origin sheet (CSP allowed it): badges are coloured
    color = page.locator(".gate .badge").evaluate("e => getComputedStyle(e).backgroundColor")
    assert color == "rgb(198, 40, 40)"
    page.screenshot(path=str(tmp_path / "run.png"), full_page=True)
    assert watched.errors == []


def test_a_filter_narrows_findings(server: Dashboard, watched: Watched) -> None:
    page = watched.page
    page.goto(f"http://127.0.0.1:{server.port}/runs/latest")
    page.locator("#all-findings").click()
    page.wait_for_url(re.compile(r"/findings$"))
    assert "65 findings match (page 1 of 2)" in page.locator("#count").inner_text()
    assert page.locator("tr.finding").count() == 50
    page.select_option("select[name=severity]", "critical")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"severity=critical"))
    assert "3 findings match" in page.locator("#count").inner_text()
    sevs = page.locator("tr.finding").evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-severity'))")
    assert sevs == ["critical"] * 3
    assert "AKIA****" in page.locator("#findings").inner_text()
    page.select_option("select[name=severity]", "")
    page.select_option("select[name=scanner]", "beta")
    page.fill("input[name=q]", "needle")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"scanner=beta"))
    assert "1 finding match" in page.locator("#count").inner_text()
    assert page.locator("tr.finding").inner_text().count("needle in beta") == 1
    assert watched.errors == []


def test_trends_svg_renders(server: Dashboard, watched: Watched, tmp_path: Path) -> None:
    page = watched.page
    page.goto(f"http://127.0.0.1:{server.port}/trends")
    chart = page.locator("#severity-trend svg.chart")
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 80
    assert chart.locator("circle").count() == 5 * 3  # five severities over three runs
    metric = page.locator('.metric-trend[data-metric="plant.accuracy"] svg.chart')
    titles = metric.locator("circle title").all_text_contents()
    assert [t.rsplit("= ", 1)[1] for t in titles] == [str(a) for a in ACCURACY]
    ys = metric.locator("circle").evaluate_all(
        "cs => cs.map(c => c.getBoundingClientRect().top)")
    assert ys == sorted(ys, reverse=True)  # accuracy rose run after run: points climb
    page.screenshot(path=str(tmp_path / "trends.png"), full_page=True)
    assert watched.errors == []
    # the page and its one style sheet, nothing from anywhere else
    origin = f"http://127.0.0.1:{server.port}/"
    assert watched.requests == [origin + "trends", origin + "static/style.css"]


def test_hostile_finding_is_text_and_csp_blocks_script(server: Dashboard,
                                                       watched: Watched) -> None:
    page = watched.page
    page.goto(f"http://127.0.0.1:{server.port}/runs/latest/findings?scanner=beta")
    text = page.locator("#findings").inner_text()
    assert "<script>document.title='PWNED'</script>" in text  # shown as text
    assert "<svg onload=alert(1)>" in text
    assert page.title().startswith("Findings of run") and "PWNED" not in page.title()
    assert page.locator("#findings script, #findings img, #findings svg").count() == 0
    assert watched.errors == []
    # the policy itself: a script element put into the page does not run
    page.evaluate("""() => { const s = document.createElement('script');
        s.textContent = "document.title = 'RAN'"; document.body.appendChild(s); }""")
    page.wait_for_timeout(200)
    assert page.title() != "RAN"
    assert any("Content Security Policy" in e for e in watched.errors), watched.errors


def test_html_report_opens_with_its_own_script(server: Dashboard, watched: Watched) -> None:
    page = watched.page
    page.goto(f"http://127.0.0.1:{server.port}/runs/latest")
    with page.expect_navigation():
        page.get_by_role("link", name="HTML").click()
    assert page.locator("h1").inner_text().startswith("secpipe report: run")
    # the report's hashed filter script ran (the header CSP allows exactly it)
    assert page.locator("#filters").is_visible()
    assert watched.errors == []
