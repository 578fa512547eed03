"""The path traversal probe against a real Flask app reading files: an os.path.join that takes
absolute paths, a filter that strips ../ once, and a prefix-only check are found through
/etc/passwd; the resolve-and-contain twin and a page that always shows a passwd line are not."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from apps_h6 import context, make_app, path_point, query_point, serve

from secpipe.scanners.web.model import InputPoint, WebFinding
from secpipe.scanners.web.probes.traversal import PathTraversal


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(make_app(Path(tmp_path_factory.mktemp("h6trav")))) as url:
        yield url


def _run(base: str, points: list[InputPoint]) -> list[list[WebFinding]]:
    with ThreadPoolExecutor(len(points)) as pool:
        return list(pool.map(lambda p: PathTraversal().run(context(base), p), points))


def test_traversal_found_in_each_vulnerable_route(base: str) -> None:
    points = [query_point(base, "/file", "name", "report.txt"),
              query_point(base, "/file-strip", "name", "report.txt"),
              query_point(base, "/asset", "path", "static/style.css"),
              path_point(base, "/download/report.txt", 2)]
    for point, found in zip(points, _run(base, points), strict=True):
        assert [(f.kind, f.detail) for f in found] == [("path-traversal", "/etc/passwd")], \
            point.url
        assert found[0].proof.startswith("root:") and found[0].cwe == "CWE-22"
        assert found[0].severity == "critical"


def test_no_traversal_on_contained_twin_passwd_prose_or_other_routes(base: str) -> None:
    points = [query_point(base, "/file-safe", "name", "report.txt"),
              query_point(base, "/docs/passwd", "page", "1"),
              query_point(base, "/xss/html-safe", "q", "x"),
              path_point(base, "/sqli/item-safe/apple", 3),
              path_point(base, "/download-safe/report.txt", 2)]
    assert _run(base, points) == [[], [], [], [], []]
