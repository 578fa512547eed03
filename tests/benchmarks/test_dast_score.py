"""The DAST benchmark's scorer: route/kind matching (templates, alt pages, trailing slash,
encoded injections), the TPR / false-alarm / Youden J arithmetic on a synthetic SARIF report,
Wapiti's JSON mapping, and a real Wapiti run against the real app."""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "dast"
sys.path.insert(0, str(BENCH))
for _name in ("_score", "_common", "_main", "_heldout", "app", "run"):  # other benchmarks'
    _mod = sys.modules.get(_name)                                       # same-named modules
    if _mod is not None and Path(getattr(_mod, "__file__", "") or "").parent != BENCH:
        del sys.modules[_name]

import _score  # noqa: E402
import run as bench_run  # noqa: E402
from _score import Hit  # noqa: E402

_PEER = Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache/secpipe/peers/wapiti/bin/wapiti"
WAPITI = _PEER if _PEER.is_file() else Path(shutil.which("wapiti") or _PEER)


def _lab(path: str, kind: str, vulnerable: bool, part: str = "main", **kw: Any
         ) -> dict[str, Any]:
    return {"part": part, "method": "GET", "path": path, "param": "", "kind": kind,
            "vulnerable": vulnerable, "twin_of": "", "note": "", "alt": [], **kw}


LABELS = [
    _lab("/search", "xss-reflected", True),
    _lab("/products", "xss-reflected", False, twin_of="/search"),
    _lab("/models/<name>/card", "sqli", True),
    _lab("/datasets/<name>/card", "sqli", False),
    _lab("/guestbook/sign", "xss-stored", True, alt=["/guestbook"]),
    _lab("/files/", "directory-listing", True),
    _lab("/about", "missing-header", True),
    _lab("/contact", "missing-header", False),
    _lab("/catalogue", "xss-reflected", True, part="heldout"),
]


def _sarif(results: list[tuple[str, str]]) -> dict[str, Any]:
    return {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "secpipe"}}, "results": [
        {"ruleId": f"web.{kind}", "level": "error", "message": {"text": "x"},
         "properties": {"details": {"kind": kind, "route": route, "method": "GET",
                                    "param": "q"}}}
        for kind, route in results]}]}


def test_route_matching() -> None:
    card = LABELS[2]
    assert _score.route_matches(card, "/models/bert'/card")
    assert _score.route_matches(card, "/models/bert%27%20OR%201%3D1--/card")
    assert _score.route_matches(card, "http://127.0.0.1:9/models/a/../b/card?x=1")
    assert not _score.route_matches(card, "/models/bert")
    assert not _score.route_matches(card, "/datasets/bert/card")
    assert _score.route_matches(LABELS[4], "/guestbook")            # alt: the page showing it
    assert _score.route_matches(LABELS[5], "/files")                 # trailing slash ignored
    assert _score.route_matches(LABELS[0], "/search?q=<x>")
    assert not _score.route_matches(LABELS[0], "/search/more")


def test_scores_from_a_synthetic_sarif_report() -> None:
    doc = _sarif([("xss-reflected", "/search"), ("xss-reflected", "/search"),  # duplicate
                  ("sqli", "/models/x'/card"), ("sqli", "/datasets/x'/card"),  # twin: FA
                  ("xss-stored", "/guestbook"), ("missing-header", "/about"),
                  ("sqli", "/search"),                          # wrong kind: unlabelled
                  ("csp", "/nowhere"),                          # unlabelled
                  ("xss-reflected", "/catalogue")])             # other part's label
    doc["runs"][0]["results"].append({"ruleId": "web.scan-incomplete", "properties": {
        "details": {"kind": "scan-incomplete", "route": "/"}}})
    hits = _score.hits_from_sarif(doc)
    assert _score.incomplete_from_sarif(doc) == 1
    ps = _score.score(LABELS, hits, "main", LABELS)
    t = ps.total()
    assert (t.vulnerable, t.found, t.negatives, t.false_alarms) == (5, 4, 3, 1)
    assert t.tpr == pytest.approx(0.8) and t.far == pytest.approx(1 / 3)
    assert _score.youden(t) == pytest.approx(0.8 - 1 / 3)
    assert ps.missed == ["directory-listing GET /files/"]
    assert ps.false_alarms == ["sqli GET /datasets/<name>/card"]
    assert {(h.kind, h.route) for h in ps.unlabelled} == {("sqli", "/search"),
                                                           ("csp", "/nowhere")}
    assert ps.kinds["sqli"].tpr == 1.0 and ps.kinds["sqli"].far == 1.0
    assert ps.kinds["cors"].tpr is None
    held = _score.score(LABELS, hits, "heldout", LABELS).total()
    assert (held.vulnerable, held.found, held.negatives) == (1, 1, 0)
    assert _score.youden(held) is None                                # no negatives: no J
    d = ps.as_dict()
    assert d["j"] == pytest.approx(0.8 - 1 / 3) and d["found"] == 4


def test_no_findings_scores_zero_not_error() -> None:
    t = _score.score(LABELS, [], "main", LABELS).total()
    assert (t.tpr, t.far) == (0.0, 0.0)


def test_wapiti_report_mapping() -> None:
    doc = {"vulnerabilities": {
        "Reflected Cross Site Scripting": [{"method": "GET", "path": "/search",
                                            "parameter": "q", "info": "x"}],
        "Blind SQL Injection": [{"method": "GET", "path": "/models/x%27/card",
                                 "parameter": ""}],
        "Secure Flag cookie": []},
        "anomalies": {"Internal Server Error": [{"method": "POST", "path": "/predict",
                                                 "parameter": "features"}]},
        "additionals": {"HTTP Methods": [{"method": "GET", "path": "/", "parameter": ""}]}}
    hits = _score.hits_from_wapiti(doc)
    assert Hit("xss-reflected", "/search", "GET", "q") in hits
    assert Hit("ml-crash", "/predict", "POST", "features") in hits
    assert Hit("other:HTTP Methods", "/", "GET", "") in hits
    ps = _score.score(LABELS, hits, "main", LABELS)
    assert ps.kinds["sqli"].found == 1 and ps.other == 1


def test_markdown_reports_errors_and_rates() -> None:
    scan_ok = bench_run.Scan([Hit("xss-reflected", "/search")], wall_s=1.0, requests=10)
    res = {"t": {"main": bench_run.summarize([scan_ok], "main", LABELS),
                 "heldout": bench_run.summarize([bench_run.Scan(error="boom")], "heldout",
                                                LABELS)}}
    md = "\n".join(bench_run.markdown(res, ["main", "heldout"]))
    assert "| t | main | 20 % (1/5) | 0 % (0/3) | 0.20 |" in md
    assert "| t | heldout | error: boom |" in md


@pytest.mark.external
def test_real_wapiti_on_the_real_app(tmp_path: Path) -> None:
    if not WAPITI.is_file():
        pytest.skip(f"wapiti not installed at {WAPITI}")
    args = argparse.Namespace(wapiti=str(WAPITI), timeout=240.0, wapiti_modules="redirect",
                              secpipe_cmd=None, secpipe_args="")
    scan = bench_run.run_one("wapiti", "heldout", tmp_path, args)
    assert scan.error is None, scan.error
    assert scan.requests > 50
    ps = _score.score(_score.load_labels(), scan.hits, "heldout")
    assert ps.kinds["open-redirect"].found >= 1                   # /out or /sso/callback
    assert ps.kinds["open-redirect"].false_alarms == 0            # /leave, /auth/done
