"""The template injection probe against a real Flask app: Jinja2 built from input (query and a
JSON field) and a ${a*b} engine are found by the product of random operands; the template that
receives the value as data (echoing the syntax), and a page with random numbers of its own, are
not."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from apps_h6 import context, json_point, make_app, query_point, serve

from secpipe.scanners.web.model import InputPoint, WebFinding
from secpipe.scanners.web.probes.ssti import TemplateInjection


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(make_app(Path(tmp_path_factory.mktemp("h6ssti")))) as url:
        yield url


def _run(base: str, points: list[InputPoint]) -> list[list[WebFinding]]:
    with ThreadPoolExecutor(len(points)) as pool:
        return list(pool.map(lambda p: TemplateInjection().run(context(base), p), points))


def test_ssti_found_with_the_engine_family(base: str) -> None:
    points = [query_point(base, "/ssti", "name", "ann"),
              json_point(base, "/api/render", "greeting", {"greeting": "Bob"}),
              query_point(base, "/ssti-dollar", "name", "ann")]
    families = ["Jinja2/Twig", "Jinja2/Twig", "Mako/Freemarker/EL"]
    for point, family, found in zip(points, families, _run(base, points), strict=True):
        assert [(f.kind, f.detail) for f in found] == [("ssti", family)], point.url
        product = found[0].proof.split(" -> ")[1]
        assert product in found[0].evidence[-1].response.text
        assert found[0].severity == "critical" and found[0].cwe == "CWE-1336"


def test_no_ssti_when_syntax_is_echoed_or_numbers_are_random(base: str) -> None:
    points = [query_point(base, "/ssti-safe", "name", "ann"),
              query_point(base, "/calc", "x", "1"),
              query_point(base, "/xss/json", "q", "x")]
    assert _run(base, points) == [[], [], []]
