"""OpenAPI documents and big pages are bounded and never cut silently (review 16 item 5 and the
coverage caps): a tiny document whose ``$ref`` chains multiply, a document with more operations
than are read, a cancelled scan, a document too large to read, a page with too many links."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from apps_h4 import Served, serve
from flask import Flask, Response, jsonify

from secpipe.scanners.web import openapi
from secpipe.scanners.web.crawl import MAX_LINKS_PER_PAGE, CrawlSettings, crawl
from secpipe.scanners.web.http import Client, ClientSettings, origin_of
from secpipe.scanners.web.model import Site

URL = "http://127.0.0.1:1/openapi.json"


def chain(width: int, levels: int, combo: str) -> dict[str, Any]:
    """A ~5 KB document whose schema S0 refers ``width`` times to S1, which refers ``width``
    times to S2 … (``allOf`` or properties): unbounded, its sample has width**levels nodes."""
    schemas: dict[str, Any] = {}
    for i in range(levels):
        nxt = {"$ref": f"#/components/schemas/S{i + 1}"}
        if combo == "allOf":
            schemas[f"S{i}"] = {"allOf": [nxt] * width}
        else:
            schemas[f"S{i}"] = {"type": "object",
                                "properties": {f"p{j}": nxt for j in range(width)}}
    schemas[f"S{levels}"] = {"type": "object", "properties": {"a": {"type": "string"}}}
    return {"openapi": "3.0.0", "paths": {
        "/x": {"post": {"requestBody": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/S0"}}}}}},
        "/y": {"get": {"parameters": [{"name": "q", "in": "query"}]}}},
        "components": {"schemas": schemas}}


@pytest.mark.parametrize("combo", ["allOf", "properties"])
def test_an_exponential_document_finishes_fast_and_says_it_was_cut(combo: str) -> None:
    doc = chain(16, 8, combo)
    assert len(json.dumps(doc)) < 8000
    notes: list[str] = []
    started = time.monotonic()
    points, _ = openapi.points_from(doc, URL, notes=notes)
    assert time.monotonic() - started < 2
    assert len(notes) == 1 and "read only in part" in notes[0] and "budget" in notes[0]
    assert sum(len(p.json_body) for p in points) < 10_000_000  # bodies bounded too


def test_a_reused_ref_is_sampled_once_and_a_normal_big_api_is_read_whole() -> None:
    # 400 operations all posting the same User (with a nested Address): a real API's shape,
    # well inside the shared budget: no note, every operation read
    user = {"type": "object", "properties": {
        **{f"f{i}": {"type": "string"} for i in range(30)},
        "address": {"$ref": "#/components/schemas/Address"}}}
    address = {"type": "object", "properties": {f"a{i}": {"type": "string"} for i in range(10)}}
    paths = {f"/r{i}": {"post": {"requestBody": {"content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/User"}}}}}} for i in range(400)}
    doc = {"openapi": "3.0.0", "paths": paths,
           "components": {"schemas": {"User": user, "Address": address}}}
    notes: list[str] = []
    points, _ = openapi.points_from(doc, URL, notes=notes)
    assert notes == []
    assert {p.url.rsplit("/", 1)[1] for p in points} == {f"r{i}" for i in range(400)}
    assert any(p.name == "address.a9" for p in points)


def test_operations_past_the_limit_are_reported() -> None:
    paths = {f"/p{i}": {"get": {"parameters": [{"name": "q", "in": "query"}]}}
             for i in range(openapi.MAX_OPERATIONS + 20)}
    notes: list[str] = []
    points, _ = openapi.points_from({"openapi": "3.0.0", "paths": paths}, URL, notes=notes)
    assert len(points) == openapi.MAX_OPERATIONS
    assert notes and f"only the first {openapi.MAX_OPERATIONS}" in notes[0]


def test_a_cancelled_scan_stops_sampling() -> None:
    cancel = threading.Event()
    cancel.set()
    notes: list[str] = []
    openapi.points_from(chain(16, 8, "properties"), URL, notes=notes, cancel=cancel)
    assert len(notes) == 1 and "cancelled" in notes[0]


# --- on a real server -----------------------------------------------------------------------
def _app() -> Flask:
    app = Flask("bounds")

    @app.get("/")
    def index() -> str:
        links = "".join(f"<a href='/p{i}'>{i}</a>" for i in range(MAX_LINKS_PER_PAGE + 50))
        return f"<html><body>{links}</body></html>"

    @app.get("/openapi.json")
    def spec() -> object:
        return jsonify(chain(16, 8, "allOf"))

    @app.get("/p<int:n>")
    def page(n: int) -> str:
        return f"<html><body>{n}</body></html>"

    return app


def _big_app() -> Flask:
    app = Flask("big")
    big = {"openapi": "3.0.0", "paths": {f"/op{i}": {"get": {"description": "x" * 300}}
                                         for i in range(8000)}}

    @app.get("/")
    def index() -> str:
        return "<html><body>hi</body></html>"

    @app.get("/openapi.json")
    def big_spec() -> Response:
        return Response(json.dumps(big), mimetype="application/json")

    return app


def _crawl(served: Served) -> Site:
    origins = (origin_of(served.url),)
    return crawl(Client(ClientSettings(origins=origins, max_requests=2000)), served.url + "/",
                 CrawlSettings(origins=origins, max_pages=30))


@pytest.fixture(scope="module")
def crawled() -> Iterator[tuple[Site, float]]:
    with serve(_app()) as served:
        started = time.monotonic()
        site = _crawl(served)
        yield site, time.monotonic() - started


def test_the_crawl_reports_every_coverage_cap(crawled: tuple[Site, float]) -> None:
    site, took = crawled
    notes = " | ".join(site.incomplete)
    assert "/openapi.json was read only in part" in notes  # the exponential document
    assert f"1 page(s) have more than {MAX_LINKS_PER_PAGE} links" in notes
    assert took < 20


def test_a_document_too_large_to_read_is_reported() -> None:
    with serve(_big_app()) as served:
        site = _crawl(served)
        assert "/openapi.json" in served.paths()
    assert site.openapi is None
    assert any("/openapi.json is larger than" in note for note in site.incomplete)
