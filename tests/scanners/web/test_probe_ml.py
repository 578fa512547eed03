"""The model-endpoint probes against a real Flask model app: crash / hang on malformed input,
echo of the input, leaked internals and a missing rate limit are found on the vulnerable routes;
the validating, label-only, rate-limited twins and a non-model JSON route are not flagged."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import pytest
from apps_h7 import context, json_point, ml_app, query, serve

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.web.auth import AuthedSender
from secpipe.scanners.web.http import Client, ClientSettings, origin_of
from secpipe.scanners.web.model import (
    BudgetExhausted,
    Exchange,
    InputPoint,
    Request,
    Site,
    WebFinding,
)
from secpipe.scanners.web.probes import ProbeContext
from secpipe.scanners.web.probes import ml as ml_module
from secpipe.scanners.web.probes.ml import (
    PROBES,
    MlCrashProbe,
    MlEchoProbe,
    MlInternalsProbe,
    RateLimitProbe,
    crash_payloads,
    ml_routes,
    prediction_route,
)

TEXT = {"text": "hello there"}


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serve(ml_app(limit=10**9)) as url:
        yield url


def text_point(base: str, path: str) -> InputPoint:
    return json_point(base, path, "text", TEXT)


def ctx_for(base: str, *points: InputPoint) -> ProbeContext:
    return context(base, list(points))


def kinds(findings: list[WebFinding]) -> list[tuple[str, str]]:
    return [(f.kind, f.route) for f in findings]


def test_candidate_and_prediction_routes(base: str) -> None:
    ctx = ctx_for(base, text_point(base, "/api/comments"), text_point(base, "/v1/crash/predict"),
                  text_point(base, "/api/v2/run"), query(base, "/search", "q", "shoes"))
    routes = ml_routes(ctx)
    assert [(r.url.removeprefix(base), r.named) for r in routes] == [
        ("/v1/crash/predict", True), ("/api/comments", False), ("/api/v2/run", False)]
    assert ml_routes(ctx) is routes  # computed once per scan
    assert [prediction_route(ctx, r) for r in routes] == [True, False, True]
    assert ctx.client.sent == 2  # the unnamed JSON routes' sample answers, nothing else


def test_crash_on_wrong_types_is_found_and_confirmed(base: str) -> None:
    ctx = ctx_for(base, text_point(base, "/v1/crash/predict"))
    findings = MlCrashProbe().run_site(ctx)
    assert kinds(findings) == [("ml-crash", "/v1/crash/predict")]
    found = findings[0]
    assert found.severity is Severity.HIGH and found.confidence is Confidence.HIGH
    assert found.param == "text" and "HTTP 500" in found.message
    assert [e.response.status for e in found.evidence] == [500, 500]
    assert ctx.client.sent == 4  # base, payload, base again, payload again


def test_crash_of_a_get_query_route_is_found(base: str) -> None:
    ctx = ctx_for(base, query(base, "/v1/classify", "text", "win a prize"))
    findings = MlCrashProbe().run_site(ctx)
    assert kinds(findings) == [("ml-crash", "/v1/classify")]
    assert "text missing" in findings[0].message
    assert "text=" not in findings[0].evidence[0].request.url


def test_validating_twin_is_not_flagged_after_every_payload(base: str) -> None:
    point = text_point(base, "/v1/safe/predict")
    ctx = ctx_for(base, point)
    assert MlCrashProbe().run_site(ctx) == []
    route = ml_routes(ctx)[0]
    assert ctx.client.sent == 1 + len(list(crash_payloads(route)))  # base + every payload


def test_load_shedding_503_with_retry_after_is_no_crash_and_a_limit(base: str) -> None:
    ctx = ctx_for(base, text_point(base, "/busy/predict"))
    assert MlCrashProbe().run_site(ctx) == []
    assert RateLimitProbe().run_site(ctx) == []


def test_deep_json_crash_is_found(base: str) -> None:
    point = json_point(base, "/score", "features", {"features": [1.0, 2.0, 3.0]})
    findings = MlCrashProbe().run_site(ctx_for(base, point))
    assert len(findings) == 1 and "levels deep" in findings[0].message


def test_nan_goes_into_a_number_vector() -> None:
    point = json_point("http://t", "/p", "v", {"v": [0.5, 2], "s": "a"})
    request = ml_module._non_finite(point, b"-Infinity")
    assert request.body == b'{"v": [-Infinity, 2], "s": "a"}'


def test_hang_on_nan_is_found(base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ml_module, "MIN_HANG_SECONDS", 1.0)
    point = json_point(base, "/slow/infer", "x", {"x": 1.5})
    findings = MlCrashProbe().run_site(ctx_for(base, point))
    assert len(findings) == 1
    assert "NaN" in findings[0].message and "hang limit" in findings[0].message
    assert [e.response.error for e in findings[0].evidence] == ["timeout", "timeout"]


def test_a_timeout_near_the_end_of_the_time_budget_is_no_hang(
        base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ml_module, "MIN_HANG_SECONDS", 1.0)
    client = Client(ClientSettings(origins=(origin_of(base),), max_seconds=1.9))
    point = json_point(base, "/slow/infer", "x", {"x": 1.5})
    sender = AuthedSender(client, None)  # as the step wraps it
    ctx = ProbeContext(sender, Site(base, (origin_of(base),), points=[point]))
    with contextlib.suppress(BudgetExhausted):  # the step reports scan-incomplete: no finding
        assert MlCrashProbe().run_site(ctx) == []


def test_payloads_are_what_they_say(base: str) -> None:
    body = {"n": 3, "s": "a", "v": [0.5, 2]}
    ctx = ctx_for(base, *(json_point(base, "/p/predict", k, body) for k in ("n", "s", "v")))
    route = ml_routes(ctx)[0]
    assert json.loads(route.base_request().body) == body  # numbers stay numbers
    payloads = {label: request for label, request, _huge, _param in crash_payloads(route)}
    assert json.loads(payloads["v set to a list"].body)["v"][0].startswith("sp")
    assert json.loads(payloads["s set to null"].body) == {"n": 3, "s": None, "v": [0.5, 2]}
    assert payloads["n set to NaN"].body == b'{"n": NaN, "s": "a", "v": [0.5, 2]}'
    assert b"\xff\xfe" in payloads["s with invalid UTF-8 bytes"].body
    assert payloads["a text/plain Content-Type"].header("content-type") == "text/plain"
    assert payloads["an empty body"].body == b""
    assert len(payloads["s set to a 2 MiB string"].body) > 2 << 20
    deep = payloads["n nested 10000 levels deep"].body
    assert b"[" * 10_000 in deep and b"[" * 10_001 not in deep
    assert json.loads(deep.replace(b"[" * 10_000, b"[", 1).replace(b"]" * 10_000, b"]", 1))["n"] \
        == []


def test_non_model_json_route_gets_crash_probes_only(base: str) -> None:
    ctx = ctx_for(base, text_point(base, "/api/comments"))
    findings = [f for p in PROBES for f in p.run_site(ctx)]
    assert kinds(findings) == [("ml-crash", "/api/comments")]  # a real 500 on wrong types
    # it echoes its input, but it is no prediction: no ml-echo, no rate-limit burst
    assert ctx.client.sent < ml_module.BURST


@pytest.mark.parametrize("path", ["/echo/predict", "/api/v2/run"])
def test_echo_of_the_input_is_found(base: str, path: str) -> None:
    ctx = ctx_for(base, text_point(base, path))
    findings = MlEchoProbe().run_site(ctx)
    assert kinds(findings) == [("ml-echo", path)]
    assert findings[0].proof in findings[0].evidence[0].response.text
    assert findings[0].param == "text"


@pytest.mark.parametrize(("doc", "expected"), [
    ({"translation": "bonjour spcanary00"}, None),  # our token copied, not the input
    ({"out": {"items": ["x", "hello there spcanary00!"]}}, "items"),
])
def test_echo_means_the_whole_input(doc: dict[str, object], expected: str | None) -> None:
    assert ml_module._echo_field(doc, "hello there spcanary00") == expected


def test_echo_of_a_number_vector_is_found(base: str) -> None:
    point = json_point(base, "/vec/predict", "features", {"features": [0.5, 1.0, 2]})
    ctx = ctx_for(base, point)
    findings = MlEchoProbe().run_site(ctx)
    assert kinds(findings) == [("ml-echo", "/vec/predict")]
    sent = json.loads(findings[0].evidence[0].request.body)["features"]
    assert sent != [0.5, 1.0, 2] and json.loads(findings[0].proof) == sent


def test_label_only_twin_does_not_echo(base: str) -> None:
    assert MlEchoProbe().run_site(ctx_for(base, text_point(base, "/v1/safe/predict"))) == []


def test_internals_in_the_prediction_are_found(base: str) -> None:
    findings = MlInternalsProbe().run_site(ctx_for(base, text_point(base, "/proba/classify")))
    assert kinds(findings) == [("ml-internals", "/proba/classify")]
    message = findings[0].message
    assert "probability for every class (eggs, ham, spam)" in message
    assert "/app/artifacts/model.pkl" in message and "sklearn 1.4.2" in message
    assert findings[0].severity is Severity.MEDIUM and findings[0].cwe == "CWE-497"


def test_internals_in_an_error_answer_are_found(base: str) -> None:
    point = json_point(base, "/score", "features", {"features": [1.0, 2.0, 3.0]})
    findings = MlInternalsProbe().run_site(ctx_for(base, point))
    assert len(findings) == 1
    assert "LogisticRegression is expecting 3 features" in findings[0].message
    assert findings[0].evidence[0].response.status == 400


@pytest.mark.parametrize(("text", "leak"), [
    ('{"model_file": "/opt/models/clf.onnx"}', True),
    ('{"error": "C:\\\\srv\\\\m.joblib missing"}', True),
    ('<a href="https://cdn.example/models/clf.onnx">download</a>', False),
    ('<a href="/static/models/clf.onnx">download</a>', False),
    ('{"label": "spam", "score": 0.93}', False),
    ('{"scores": {"spam": 0.93, "ham": 0.07}}', True),
    ('{"top": [{"label": "spam", "score": 0.6}, {"label": "ham", "score": 0.2}]}', False),
    ('{"top": [{"label": "spam", "score": 0.6}, {"label": "ham", "score": 0.4}]}', True),
    ('{"classes": ["a", "b", "c"], "proba": [0.2, 0.3, 0.5]}', True),
    ('{"coef_": [[0.1, -2.3], [1.0, 0.4]], "intercept_": [0.2, 0.1]}', True),
    ('{"versions": {"torch": "2.1.0+cpu"}}', True),
    ('{"error": "expected features [income, debt_ratio, age] in order"}', True),
    ('{"error": "feature_names: [\'age\', \'bmi\']"}', True),
    ('{"error": "features must be a list like [1, 2]"}', False),
    ('{"error": "features [\'spcanary00\'] invalid"}', False),  # our own single token back

    ('{"detail": "Traceback (most recent call last):\\n  File \\"/app/main.py\\"", "x": 1}', False),
    ('{"detail": "File \\"/usr/lib/python3/site-packages/sklearn/base.py\\""}', True),
])
def test_internals_detector(text: str, leak: bool) -> None:
    from secpipe.scanners.web.model import Response
    response = Response(200, headers=(("Content-Type", "application/json"),), body=text.encode())
    assert bool(ml_module.internals(response)) is leak, ml_module.internals(response)


def test_internals_on_a_crawled_page_need_no_request(base: str) -> None:
    ctx = ctx_for(base)
    request = Request("GET", base + "/model/info")
    ctx.site.pages.append(Exchange(request, ctx.client.send(request)))
    sent = ctx.client.sent
    findings = MlInternalsProbe().run_site(ctx)
    assert kinds(findings) == [("ml-internals", "/model/info")]
    assert "sklearn 1.4.2" in findings[0].message and "model.joblib" in findings[0].message
    assert ctx.client.sent == sent


def test_label_only_twin_leaks_no_internals(base: str) -> None:
    assert MlInternalsProbe().run_site(ctx_for(base, text_point(base, "/v1/safe/predict"))) == []


def test_burst_without_limit_is_found_and_limited_twin_is_not() -> None:
    with serve(ml_app(limit=10)) as url:
        ctx = ctx_for(url, text_point(url, "/v1/crash/predict"),
                      text_point(url, "/v1/safe/predict"))
        findings = RateLimitProbe().run_site(ctx)
        assert kinds(findings) == [("rate-limit", "/v1/crash/predict")]
        assert f"{ml_module.BURST} concurrent requests" in findings[0].message
        assert ctx.client.sent == 2 * (1 + ml_module.BURST)
        after = ctx.client.send(text_point(url, "/v1/safe/predict").request("hi"))
        assert after.status == 429  # the twin's limit was really reached by the burst


def test_module_defines_its_probes() -> None:
    assert [p.kind for p in PROBES] == ["ml-crash", "ml-echo", "ml-internals", "rate-limit"]
    assert all(hasattr(p, "run_site") for p in PROBES)
