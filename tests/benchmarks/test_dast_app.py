"""The DAST benchmark app starts on loopback, every labelled route answers as labelled, the
labels file agrees with the app, and the parts are shaped as the benchmark promises."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
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
import app as bench_app  # noqa: E402
from run import App  # noqa: E402


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a: Any, **k: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, data: bytes | None = None, headers: dict[str, str] | None = None,
          method: str | None = None) -> tuple[int, dict[str, str], str]:
    req = urllib.request.Request(url, data=data, headers=headers or {},  # noqa: S310 (http)
                                 method=method)
    try:
        with _OPENER.open(req, timeout=20) as r:
            return r.status, dict(r.headers), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def app() -> Iterator[App]:
    a = App("all")
    yield a
    a.stop()


def _request(base: str, r: Any) -> tuple[int, dict[str, str], str]:
    url = base.rstrip("/") + (r.link or r.path)   # the index's example link, if any
    if r.body is not None:
        return fetch(url, json.dumps(r.body).encode(), {"Content-Type": "application/json"},
                     "POST")
    if r.method == "POST":
        form = "&".join(f"{f}=hello" for f in r.form) or f"{r.param}=hello"
        return fetch(url, form.encode(), {"Content-Type": "application/x-www-form-urlencoded"},
                     "POST")
    if r.param and r.param[0].islower() and not r.link:
        url += f"?{r.param}=hello"
    return fetch(url)


def test_labels_file_is_what_the_app_declares() -> None:
    assert _score.load_labels() == bench_app.all_labels(), \
        "labels.json is stale: run app.py --write-labels benchmarks/dast/labels.json"


def test_parts_sizes_kinds_and_twins() -> None:
    labels = _score.load_labels()
    by_part = {p: [lab for lab in labels if lab["part"] == p] for p in _score.PARTS}
    assert len(by_part["main"]) >= 85
    assert len(by_part["heldout"]) >= 35
    for part, labs in by_part.items():
        vulnerable_kinds = {lab["kind"] for lab in labs if lab["vulnerable"]}
        assert vulnerable_kinds == set(_score.KINDS), (part, set(_score.KINDS) - vulnerable_kinds)
        vuln = {(lab["path"], lab["kind"]) for lab in labs if lab["vulnerable"]}
        for lab in labs:
            assert lab["kind"] in _score.KINDS
            if lab["twin_of"]:
                assert not lab["vulnerable"]
                assert (lab["twin_of"], lab["kind"]) in vuln, lab
    main_paths = {lab["path"] for lab in by_part["main"]}
    held_paths = {lab["path"] for lab in by_part["heldout"]}
    assert not main_paths & held_paths
    # every active kind has a safe twin in each part, so false alarms are measurable
    active = {"xss-reflected", "xss-stored", "sqli", "cmdi", "path-traversal", "open-redirect",
              "ssrf", "ssti", "ml-crash", "ml-echo", "ml-internals", "rate-limit"}
    for part, labs in by_part.items():
        twinned = {lab["kind"] for lab in labs if lab["twin_of"]}
        assert active <= twinned, (part, active - twinned)


def test_every_labelled_route_answers(app: App) -> None:
    for part in ("main", "heldout"):
        for r in bench_app.PARTS[part].routes:
            status, _, body = _request(app.url, r)
            if r.auth:
                assert status == 401, r.path
            elif r.kind == "ml-crash" and r.vulnerable:
                assert status == 200, (r.path, body[:200])   # the example body works
            elif r.kind == "ssrf" and r.vulnerable:   # example URL: loopback port 80, closed
                assert status in (400, 502) and "fetch failed" in body, (r.path, body[:200])
            elif status == 404:   # the route's own "no such document" answer, not a 404 page
                assert r.kind == "path-traversal" and "No such" in body, (r.path, body[:200])
            else:
                assert status in (200, 302, 303), (r.path, status, body[:200])
            assert "Sorry, we could not find" not in body, r.path
        for r in bench_app.PARTS[part].extra:   # soft-404 hard negatives answer 200 "not found"
            status, _, body = fetch(app.url.rstrip("/") + r.path)
            assert status == 200 and "Sorry, we could not find" in body


def test_vulnerable_routes_are_vulnerable_and_twins_are_not(app: App) -> None:
    b = app.url.rstrip("/")
    assert "<b>x</b>" in fetch(b + "/search?q=<b>x</b>")[2]
    assert "<b>x</b>" not in fetch(b + "/products?query=<b>x</b>")[2]
    assert "data-colour='a'" in fetch(b + "/catalogue?colour=a'")[2]
    assert "1337" in fetch(b + "/hello?name={{7*191}}")[2]
    assert "1337" not in fetch(b + "/salute?person={{7*191}}")[2]
    assert "1337" in fetch(b + "/browser-check", headers={"User-Agent": "{{7*191}}"})[2]
    assert "root:" in fetch(b + "/download?file=/etc/passwd")[2]
    assert "root:" not in fetch(b + "/attachment?name=/etc/passwd")[2]
    assert "root:" in fetch(b + "/handbook?chapter=../../../../../../etc/passwd")[2]
    assert fetch(b + "/redirect?next=http://evil.test/")[1]["Location"] == "http://evil.test/"
    assert fetch(b + "/continue?to=http://evil.test/")[1]["Location"] == "/"
    assert "42" in fetch(b + "/tools/ping?host=x;echo%20$((6*7))")[2]
    assert "42" not in fetch(b + "/tools/trace?target=x;echo%20$((6*7))")[2]
    yes = fetch(b + "/users/lookup?username=bob'%20AND%20'1'='1")[2]
    no = fetch(b + "/users/lookup?username=bob'%20AND%20'1'='2")[2]
    assert "bob@example.test" in yes and "No such user" in no
    assert "unrecognized token" in fetch(b + "/items?id=1'")[2]
    bad = json.dumps({"features": ["x"]}).encode()
    jh = {"Content-Type": "application/json"}
    assert fetch(b + "/predict", bad, jh, "POST")[0] == 500
    assert fetch(b + "/v2/predict", bad, jh, "POST")[0] == 400


def test_page_policies_and_baseline(app: App) -> None:
    b = app.url.rstrip("/")
    _, h, _ = fetch(b + "/legal")
    assert h["Server"] == "Apache/2.4.41 (Ubuntu)" and h["X-Powered-By"] == "PHP/7.4.3"
    _, h, _ = fetch(b + "/terms")
    assert h["Server"] == "bench" and "X-Powered-By" not in h
    assert h["Cache-Control"] == "no-store" and h["X-Content-Type-Options"] == "nosniff"
    _, h, _ = fetch(b + "/about")
    assert "X-Frame-Options" not in h and "Content-Security-Policy" not in h
    _, h, _ = fetch(b + "/api/me", headers={"Origin": "https://evil.test"})
    assert h["Access-Control-Allow-Origin"] == "https://evil.test"
    _, h, _ = fetch(b + "/api/account", headers={"Origin": "https://evil.test"})
    assert "Access-Control-Allow-Origin" not in h
    assert "HttpOnly" not in fetch(b + "/session/start")[1]["Set-Cookie"]
    assert "HttpOnly" in fetch(b + "/session/begin")[1]["Set-Cookie"]


def test_discoverable_by_crawling_and_openapi(app: App) -> None:
    b = app.url.rstrip("/")
    index = fetch(b + "/")[2]
    spec = json.loads(fetch(b + "/openapi.json")[2])
    for part in ("main", "heldout"):
        for r in bench_app.PARTS[part].routes:
            if r.body is not None:
                assert r.path in spec["paths"], r.path
            elif r.form:
                assert f'action="{r.path}"' in index, r.path
            elif bench_app.default_link(r):
                assert f'href="{bench_app.default_link(r)}' in index, r.path


def test_request_counter_and_state_are_per_instance(app: App) -> None:
    before = app.requests()
    fetch(app.url.rstrip("/") + "/faq")
    fetch(app.url.rstrip("/") + "/faq")
    assert app.requests() == before + 2
    fetch(app.url.rstrip("/") + "/guestbook/sign", b"entry=<i>marker-7</i>",
          {"Content-Type": "application/x-www-form-urlencoded"}, "POST")
    assert "<i>marker-7</i>" in fetch(app.url.rstrip("/") + "/guestbook")[2]
    with App("heldout") as fresh:
        assert fresh.requests() == 0
        body = fetch(fresh.url.rstrip("/") + "/search?q=hi")[2]
        assert "Sorry, we could not find" in body       # main routes are not served
        assert "marker-7" not in fetch(fresh.url.rstrip("/") + "/notes")[2]
    assert fresh.proc.poll() is not None
