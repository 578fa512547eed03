"""The crawler on a real multi-page Flask app: pages, input points, OpenAPI, robots/sitemap,
scope, redirects, 401 routes, bounds."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from apps_h4 import OPENAPI, Served, other_app, serve, site_app

from secpipe.scanners.web import openapi
from secpipe.scanners.web.crawl import CrawlSettings, PageParser, crawl
from secpipe.scanners.web.http import Client, ClientSettings, origin_of
from secpipe.scanners.web.model import Site


@pytest.fixture(scope="module")
def apps() -> Iterator[tuple[Served, Served]]:
    with serve(other_app()) as other, serve(site_app(other.url)) as site:
        yield site, other


@pytest.fixture(scope="module")
def crawled(apps: tuple[Served, Served]) -> Site:
    site, _ = apps
    origins = (origin_of(site.url),)
    client = Client(ClientSettings(origins=origins, max_requests=500))
    settings = CrawlSettings(origins=origins, exclude_urls=("*/logout",))
    return crawl(client, site.url + "/", settings)


def keys(site: Site) -> set[tuple[str, str, str, str]]:
    return {p.key for p in site.points}


def test_pages_links_robots_and_sitemap_are_crawled(apps: tuple[Served, Served],
                                                    crawled: Site) -> None:
    site, _ = apps
    fetched = site.paths()
    for path in ("/", "/about", "/about/team", "/search", "/items/42", "/users/alice",
                 "/hidden-admin", "/from-sitemap", "/robots.txt", "/sitemap.xml",
                 "/openapi.json", "/api/status", "/api/items/7", "/moved"):
        assert path in fetched, path
    assert "Disallow: /hidden-admin" in crawled.robots
    assert "/static/site.css" not in fetched  # stylesheets are not pages


def test_nothing_out_of_scope_is_fetched(apps: tuple[Served, Served], crawled: Site) -> None:
    site, other = apps
    assert other.hits == []  # a link, a redirect and a sitemap entry point there
    assert "/go-out" in site.paths()


def test_logout_and_excluded_urls_are_never_fetched(apps: tuple[Served, Served],
                                                    crawled: Site) -> None:
    site, _ = apps
    assert "/logout" not in site.paths()


def test_no_form_is_posted_while_crawling(apps: tuple[Served, Served], crawled: Site) -> None:
    site, _ = apps
    assert not any(h.startswith("POST") for h in site.hits)
    assert any(h.startswith("GET /search?q=") for h in site.hits)  # the GET form, once


def test_401_routes_are_recorded(crawled: Site) -> None:
    assert "/private" in crawled.unauthorised
    assert "/" not in crawled.unauthorised


def test_soft_404_baseline(crawled: Site) -> None:
    assert crawled.not_found is not None and crawled.not_found.status == 404


def test_input_points(crawled: Site) -> None:
    found = keys(crawled)
    assert ("query", "GET", "/search", "q") in found
    assert ("query", "GET", "/search", "page") in found
    assert ("form", "GET", "/search", "q") in found
    for name in ("name", "email", "topic", "message", "csrf"):
        assert ("form", "POST", "/contact", name) in found, name
    assert ("path", "GET", "/items/{}", "2") in found
    assert ("path", "GET", "/users/{}", "2") in found
    assert ("path", "GET", "/about/{}", "2") in found  # a name below the first folder
    assert not any(k[0] == "path" and k[2] in ("/{}", "/about", "/search") for k in found)
    assert ("path", "GET", "/api/items/{}", "3") in found
    assert ("query", "GET", "/api/items/7", "fields") in found
    for leaf in ("features.age", "features.email", "tags.0", "node.label"):
        assert ("json", "POST", "/api/predict", leaf) in found, leaf
    assert not any(k[1] == "DELETE" for k in found)
    assert len(found) == len(crawled.points)  # de-duplicated


def test_point_sample_values(crawled: Site) -> None:
    by_key = {p.key: p for p in crawled.points}
    contact = by_key[("form", "POST", "/contact", "email")]
    params = dict(contact.params)
    assert params["email"] == "user@example.com" and params["topic"] == "sales"
    assert params["csrf"] == "tok123"
    predict = by_key[("json", "POST", "/api/predict", "features.age")]
    body = json.loads(predict.json_body)
    assert body["features"]["age"] == 1 and body["tags"] == ["a"]
    request = predict.request("99", raw_json=99)
    assert json.loads(request.body)["features"]["age"] == 99
    item = by_key[("path", "GET", "/items/{}", "2")]
    assert item.original() == "42"
    assert crawled.openapi is not None and crawled.openapi["openapi"] == "3.0.3"


def test_non_html_exchanges_are_kept(crawled: Site) -> None:
    types = {ex.response.content_type for ex in crawled.pages}
    assert "application/json" in types and "text/html" in types


def test_page_limit_is_reported(apps: tuple[Served, Served]) -> None:
    site, _ = apps
    origins = (origin_of(site.url),)
    client = Client(ClientSettings(origins=origins))
    result = crawl(client, site.url + "/", CrawlSettings(origins=origins, max_pages=3))
    assert any("page limit of 3" in reason for reason in result.incomplete)


def test_request_budget_ends_the_crawl_and_is_reported(apps: tuple[Served, Served]) -> None:
    site, _ = apps
    origins = (origin_of(site.url),)
    client = Client(ClientSettings(origins=origins, max_requests=4))
    result = crawl(client, site.url + "/", CrawlSettings(origins=origins))
    assert any("request budget of 4" in reason for reason in result.incomplete)
    assert client.sent == 4


def test_a_start_redirecting_out_of_scope_is_incomplete(apps: tuple[Served, Served]) -> None:
    site, other = apps
    before = len(other.hits)
    origins = (origin_of(site.url),)
    client = Client(ClientSettings(origins=origins))
    result = crawl(client, site.url + "/go-out", CrawlSettings(origins=origins))
    assert any("redirects out of scope" in reason for reason in result.incomplete)
    assert len(other.hits) == before


def test_openapi_refs_cycles_and_depth_are_bounded() -> None:
    doc = {"openapi": "3.1.0", "paths": {"/x": {"post": {"requestBody": {"content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/A"}}}}}}},
        "components": {"schemas": {"A": {"$ref": "#/components/schemas/B"},
                                   "B": {"$ref": "#/components/schemas/A"}}}}
    points, _ = openapi.points_from(doc, "http://127.0.0.1:1/openapi.json")
    assert points == []  # a $ref cycle is no schema, and no endless loop
    deep: dict[str, object] = {"type": "string"}
    for _ in range(200):
        deep = {"type": "object", "properties": {"a": deep}}
    doc = {"openapi": "3.0.0", "paths": {"/d": {"post": {"requestBody": {"content": {
        "application/json": {"schema": deep}}}}}}}
    points, _ = openapi.points_from(doc, "http://127.0.0.1:1/openapi.json")
    assert all(p.name.count(".") <= openapi.MAX_SCHEMA_DEPTH + 1 for p in points)
    assert openapi.load_document(b"[" * 100_000) is None
    assert openapi.load_document(b"{}") is None


def test_swagger_2_with_base_path() -> None:
    doc = {"swagger": "2.0", "basePath": "/v1", "paths": {"/users/{id}": {
        "get": {"parameters": [{"name": "id", "in": "path", "type": "integer"},
                               {"name": "q", "in": "query", "type": "string"}]},
        "post": {"parameters": [{"name": "body", "in": "body", "schema": {
            "type": "object", "properties": {"name": {"type": "string"}}}}]}}}}
    points, urls = openapi.points_from(doc, "http://127.0.0.1:5/swagger.json")
    found = {p.key for p in points}
    assert ("path", "GET", "/v1/users/{}", "3") in found
    assert ("query", "GET", "/v1/users/1", "q") in found
    assert ("json", "POST", "/v1/users/1", "name") in found
    assert urls == ["http://127.0.0.1:5/v1/users/1?q=test"]


def test_page_parser_reads_what_a_browser_would_send() -> None:
    parser = PageParser("http://h/a/")
    parser.feed("<base href='/b/'><a href='c?x=1#frag'>c</a><iframe src='/f'></iframe>"
                "<meta http-equiv='refresh' content='0; url=/r'>"
                "<form method=post action=''><input type=checkbox name=c value=on>"
                "<input type=number name=n><input type=url name=u><input name=s type=submit "
                "value=Go><input type=file name=f></form>"
                "<script>axios.get(\"/api/v2/data\"); var s = '<a href=\"/no\">';</script>")
    assert "http://h/b/c?x=1#frag" in parser.links and "http://h/f" in parser.links
    assert "http://h/r" in parser.links
    assert parser.hints == ["http://h/api/v2/data"]
    form = parser.forms[0]
    assert form.method == "POST" and form.action == "http://h/b/"
    assert dict(form.fields) == {"c": "on", "n": "1", "u": "https://example.com/", "s": "Go"}


def test_the_published_spec_is_what_the_app_serves() -> None:
    assert openapi.looks_like_openapi(OPENAPI)


def test_script_calls_posting_json_become_json_points() -> None:
    parser = PageParser("http://h/")
    parser.feed("""<script>
const r = await fetch('/api/predict', {method: 'POST',
   headers: {'Content-Type': 'application/json'},
   body: JSON.stringify({features: [5.1, 3.5], model: "iris", text: el.value})});
fetch("/api/status");
axios.post('/api/v2/score', {'age': 3, name: user.name});
fetch('/api/x', {method: 'POST', body: JSON.stringify(payload)});
</script>""")
    assert parser.hints == ["http://h/api/predict", "http://h/api/status",
                            "http://h/api/v2/score", "http://h/api/x"]
    assert parser.json_calls == [
        ("http://h/api/predict", {"features": [5.1, 3.5], "model": "iris", "text": "test"}),
        ("http://h/api/v2/score", {"age": 3, "name": "alice"})]


def test_an_openapi_document_linked_from_a_page_is_read() -> None:
    from flask import Flask, jsonify

    app = Flask("linked")

    @app.get("/")
    def index() -> str:
        return "<html><body><a href='/docs/v1/openapi.json'>API</a></body></html>"

    @app.get("/docs/v1/openapi.json")
    def spec() -> object:
        return jsonify({"openapi": "3.0.0", "servers": [{"url": "/svc"}], "paths": {
            "/score": {"post": {"requestBody": {"content": {"application/json": {
                "example": {"text": "hello", "opts": {"n": 2}}}}}}}}})

    with serve(app) as served:
        origins = (origin_of(served.url),)
        site = crawl(Client(ClientSettings(origins=origins)), served.url + "/",
                     CrawlSettings(origins=origins))
    assert site.openapi is not None
    found = keys(site)
    assert ("json", "POST", "/svc/score", "text") in found
    assert ("json", "POST", "/svc/score", "opts.n") in found


def test_openapi_parameters_inside_a_segment_are_filled_in() -> None:
    doc = {"openapi": "3.0.0", "paths": {"/v1/models/{model}:predict": {"post": {
        "parameters": [{"name": "model", "in": "path", "schema": {"example": "iris"}}],
        "requestBody": {"content": {"application/json": {"schema": {
            "type": "object", "properties": {"instances": {"type": "array", "items": {
                "type": "number"}}}}}}}}}}}
    points, _ = openapi.points_from(doc, "http://127.0.0.1:5/openapi.json")
    assert {p.key for p in points} == {("json", "POST", "/v1/models/iris:predict", "instances.0")}


def test_hostile_markup_is_read_in_linear_time() -> None:
    # the standard library's HTMLParser needs tens of seconds on these (quadratic): a page the
    # target serves must not stall the crawl outside every request and time budget
    import time

    for page in ("<!--" * 50_000, "<a " * 70_000, "<a href='" + "x" * 200_000,
                 "<script>" + "fetch('/a'" * 20_000):
        parser = PageParser("http://h/")
        started = time.monotonic()
        parser.feed(page)
        assert time.monotonic() - started < 3.0, page[:20]
