"""The command injection probe against a real Flask app that runs a shell: output-based
injection (after the value and inside quotes) and blind, sleep-based injection are found; the
argument-list twin that prints the payload literally, and a route with random latency, are
not."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from apps_h6 import context, make_app, query_point, serve

from secpipe.scanners.web.probes.cmdi import CommandInjection


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(make_app(Path(tmp_path_factory.mktemp("h6cmdi")))) as url:
        yield url


def test_output_based_cmdi_found_after_the_value_and_inside_quotes(base: str) -> None:
    for route, name in (("/cmdi/ping", "host"), ("/cmdi/quoted", "name")):
        ctx = context(base, time_based=False)
        found = CommandInjection().run(ctx, query_point(base, route, name, "127.0.0.1"))
        assert [(f.kind, f.detail, f.param) for f in found] == [("cmdi", "output", name)], route
        finding = found[0]
        assert finding.proof in finding.evidence[-1].response.text
        assert finding.proof not in finding.evidence[-1].request.url
        assert finding.severity == "critical" and finding.cwe == "CWE-78"
        assert ctx.client.sent <= 2 + 8 + 1  # soft-404, baseline, forms, confirmation


def test_no_cmdi_when_the_payload_is_only_echoed_literally(base: str) -> None:
    ctx = context(base, time_based=False)
    point = query_point(base, "/cmdi/ping-safe", "host", "127.0.0.1")
    assert CommandInjection().run(ctx, point) == []
    assert ctx.client.sent == 2 + 8  # soft-404 page, baseline, every output form


def test_blind_cmdi_found_by_a_sleep_that_scales(base: str) -> None:
    ctx = context(base)
    point = query_point(base, "/cmdi/blind", "host", "127.0.0.1")
    found = CommandInjection().run(ctx, point)
    assert [(f.kind, f.detail) for f in found] == [("cmdi", "time")]
    control, short, long_, short_again, long_again = found[0].evidence[1:]
    assert min(long_.response.elapsed, long_again.response.elapsed) >= 1.7
    assert min(short.response.elapsed, short_again.response.elapsed) >= 0.85
    assert control.response.elapsed < 0.5


def test_no_blind_cmdi_on_safe_twin_or_jitter(base: str) -> None:
    points = [query_point(base, "/cmdi/blind-safe", "host", "127.0.0.1"),
              query_point(base, "/sqli/jitter", "name", "apple")]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda p: CommandInjection().run(context(base), p), points))
    assert results == [[], []]
