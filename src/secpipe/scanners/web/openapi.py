"""OpenAPI 3 / Swagger 2 documents a web app publishes, read into input points for ``scan-web``.

A JSON API has no links to follow: its published description is how the crawler learns its
routes, their query and path parameters and their JSON (or form) bodies. The document is
hostile input like any response: it is read only when it is JSON of at most
:data:`MAX_DOC_BYTES`, ``$ref`` pointers are followed only inside the document, at most
:data:`MAX_REF_DEPTH` deep and never round a cycle, schemas are walked at most
:data:`MAX_SCHEMA_DEPTH` levels, and at most :data:`MAX_OPERATIONS` operations are read. Making
samples costs at most :data:`MAX_SAMPLE_NODES` schema nodes per document (shared by all its
operations; each ``$ref``'s sample is made once and reused, a reuse charged what the making
cost: the work is linear in the budget, and so is the size of the samples, JSON bodies and leaf
lists built from them) and stops when the scan is cancelled. Every bound hit is
said in ``notes`` (the crawl's ``site.incomplete``), never skipped silently. Only
GET and POST operations become input points (the scanner never sends PUT, PATCH or DELETE:
probes must not change or remove real data). Sample values come from the schema: ``example``,
``default``, the first ``enum`` value, else one made from the type and format.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit, urlunsplit

from secpipe.scanners.web.model import InputKind, InputPoint

#: where apps commonly publish their description, tried in this order
CANDIDATE_PATHS = ("/openapi.json", "/swagger.json", "/api/openapi.json", "/v3/api-docs",
                   "/api/swagger.json", "/api-docs")
MAX_DOC_BYTES = 2 << 20
MAX_REF_DEPTH = 16
MAX_SCHEMA_DEPTH = 8
MAX_OPERATIONS = 500
MAX_FIELDS = 64
MAX_SAMPLE_NODES = 100_000
"""Schema nodes the samples of one document may cost, all operations together (a reused
``$ref`` sample costs what making it cost, which bounds the size of every sample built)."""
"""Most body fields taken from one operation."""
METHODS = ("get", "post")
_TEMPLATE = re.compile(r"\{([^{}/]{1,100})\}")


def looks_like_openapi(doc: Any) -> bool:
    """True for a parsed OpenAPI 3 or Swagger 2 document (with a ``paths`` object)."""
    return isinstance(doc, dict) and isinstance(doc.get("paths"), dict) and (
        "openapi" in doc or "swagger" in doc)


def load_document(body: bytes) -> dict[str, Any] | None:
    """The document in ``body``, None when it is not a bounded JSON OpenAPI/Swagger document."""
    if len(body) > MAX_DOC_BYTES:
        return None
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return doc if looks_like_openapi(doc) else None


class BudgetSpent(Exception):
    """The document's sample budget is spent or the scan was cancelled."""


class _Resolver:
    """``$ref`` lookups inside one document, bounded in depth and never round a cycle; also
    the document's sample budget (:data:`MAX_SAMPLE_NODES`) and each ``$ref``'s sample."""

    def __init__(self, doc: dict[str, Any], cancel: threading.Event | None = None,
                 budget: int = MAX_SAMPLE_NODES) -> None:
        self.doc = doc
        self.cancel = cancel
        self.left = budget
        self.budget = budget
        self.samples: dict[tuple[str, str], tuple[Any, int]] = {}
        """(``$ref``, field name) -> (its sample, what making it cost)"""
        self.calls = 0

    def charge(self, nodes: int = 1) -> None:
        """Count ``nodes`` schema nodes; :class:`BudgetSpent` when the budget is spent or the
        scan is cancelled."""
        self.left -= nodes
        self.calls += 1
        if self.left < 0:
            raise BudgetSpent(f"its sample budget of {self.budget} schema nodes is spent")
        if self.cancel is not None and self.calls % 256 == 0 and self.cancel.is_set():
            raise BudgetSpent("the scan was cancelled")

    def deref(self, node: Any, stack: tuple[str, ...] = ()) -> tuple[Any, tuple[str, ...]]:
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in stack or len(stack) >= MAX_REF_DEPTH or not ref.startswith("#/"):
                return {}, stack
            stack = (*stack, ref)
            target: Any = self.doc
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if isinstance(target, dict) and part in target:
                    target = target[part]
                else:
                    return {}, stack
            node = target
        return node, stack


def sample(schema: Any, resolver: _Resolver, name: str = "", depth: int = 0,
           stack: tuple[str, ...] = ()) -> Any:
    """A plausible value for ``schema`` (bounded by :data:`MAX_SCHEMA_DEPTH` and the
    document's budget: :class:`BudgetSpent` when it is spent)."""
    resolver.charge()
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if isinstance(ref, str):
        key = (ref, name)
        if key in resolver.samples:
            value, cost = resolver.samples[key]
            resolver.charge(cost)
            return value
        before = resolver.left
        value = _sample(schema, resolver, name, depth, stack)
        resolver.samples[key] = (value, before - resolver.left)
        return value
    return _sample(schema, resolver, name, depth, stack)


def _sample(schema: Any, resolver: _Resolver, name: str, depth: int,
            stack: tuple[str, ...]) -> Any:
    schema, stack = resolver.deref(schema, stack)
    if not isinstance(schema, dict) or depth > MAX_SCHEMA_DEPTH:
        return sample_for_name(name)
    for key in ("example", "default"):
        if key in schema and not isinstance(schema[key], dict | list):
            return schema[key]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and not isinstance(enum[0], dict | list):
        return enum[0]
    for combo in ("allOf", "oneOf", "anyOf"):
        parts = schema.get(combo)
        if isinstance(parts, list) and parts:
            if combo == "allOf":
                merged: dict[str, Any] = {}
                for part in parts[:16]:
                    value = sample(part, resolver, name, depth + 1, stack)
                    if isinstance(value, dict):
                        merged.update(value)
                if merged:
                    return merged
            return sample(parts[0], resolver, name, depth + 1, stack)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or (kind is None and isinstance(schema.get("properties"), dict)):
        props = schema.get("properties")
        out: dict[str, Any] = {}
        if isinstance(props, dict):
            for key, sub in list(props.items())[:MAX_FIELDS]:
                out[str(key)] = sample(sub, resolver, str(key), depth + 1, stack)
        return out
    if kind == "array":
        return [sample(schema.get("items", {}), resolver, name, depth + 1, stack)]
    if kind == "integer":
        return int(schema["minimum"]) if isinstance(schema.get("minimum"), int) else 1
    if kind == "number":
        return float(schema["minimum"]) if isinstance(schema.get("minimum"),
                                                      int | float) else 1.5
    if kind == "boolean":
        return True
    fmt = schema.get("format")
    if isinstance(fmt, str):
        by_format = {"email": "user@example.com", "uri": "https://example.com/",
                     "url": "https://example.com/", "date": "2024-01-01",
                     "date-time": "2024-01-01T00:00:00Z", "uuid":
                     "123e4567-e89b-12d3-a456-426614174000", "ipv4": "192.0.2.1",
                     "hostname": "example.com", "password": "Secret123!"}
        if fmt in by_format:
            return by_format[fmt]
    return sample_for_name(name)


def sample_for_name(name: str) -> str:
    """A sample string a form or API would accept for a field called ``name``."""
    low = name.lower()
    table = (("email", "user@example.com"), ("mail", "user@example.com"),
             ("url", "https://example.com/"), ("uri", "https://example.com/"),
             ("link", "https://example.com/"), ("redirect", "/"), ("next", "/"),
             ("return", "/"), ("phone", "5550100"), ("tel", "5550100"), ("zip", "12345"),
             ("date", "2024-01-01"), ("year", "2024"), ("age", "30"), ("id", "1"),
             ("page", "1"), ("count", "1"), ("limit", "10"), ("num", "1"), ("qty", "1"),
             ("amount", "1"), ("price", "1"), ("host", "example.com"), ("ip", "192.0.2.1"),
             ("file", "readme.txt"), ("path", "readme.txt"), ("name", "alice"),
             ("user", "alice"), ("pass", "Secret123!"), ("search", "test"), ("q", "test"),
             ("query", "test"))
    for needle, value in table:
        if needle == low or (len(needle) > 2 and needle in low):
            return value
    return "test"


def leaves(value: Any, prefix: str = "", depth: int = 0) -> list[str]:
    """Dotted paths of the scalar leaves of a sample JSON body (bounded)."""
    if depth > MAX_SCHEMA_DEPTH:
        return []
    if isinstance(value, dict):
        out: list[str] = []
        for key, sub in value.items():
            out += leaves(sub, f"{prefix}.{key}" if prefix else str(key), depth + 1)
        return out[:MAX_FIELDS]
    if isinstance(value, list):
        return leaves(value[0], f"{prefix}.0" if prefix else "0", depth + 1) if value else []
    return [prefix] if prefix else []


def _base(doc: dict[str, Any], doc_url: str) -> str:
    """The URL operations' paths are relative to: the first server (relative to the document),
    Swagger's ``basePath``, else the document's origin."""
    parts = urlsplit(doc_url)
    origin = urlunsplit((parts.scheme, parts.netloc, "/", "", ""))
    servers = doc.get("servers")
    if isinstance(servers, list) and servers and isinstance(servers[0], dict):
        url = servers[0].get("url")
        if isinstance(url, str) and "{" not in url:
            full = urljoin(doc_url, url)
            if urlsplit(full).netloc == parts.netloc:
                return full.rstrip("/")
    base_path = doc.get("basePath")
    if isinstance(base_path, str) and base_path.startswith("/"):
        return urljoin(origin, base_path).rstrip("/")
    return origin.rstrip("/")


def points_from(doc: dict[str, Any], doc_url: str, *, notes: list[str] | None = None,
                cancel: threading.Event | None = None) -> tuple[list[InputPoint], list[str]]:
    """The input points of ``doc`` (published at ``doc_url``) and the GET URLs worth fetching
    (operations without required parameters, with sample path values filled in). Each bound
    hit (operations, sample budget, cancel) appends a sentence to ``notes``."""
    resolver = _Resolver(doc, cancel)
    base = _base(doc, doc_url)
    points: list[InputPoint] = []
    urls: list[str] = []
    operations = 0
    paths = doc.get("paths", {})
    said: list[str] = notes if notes is not None else []
    if len(paths) > MAX_OPERATIONS:
        said.append(f"the OpenAPI document {doc_url} has {len(paths)} paths: only the first "
                    f"{MAX_OPERATIONS} were read")
    for raw_path, item in list(paths.items())[:MAX_OPERATIONS]:
        item, _ = resolver.deref(item)
        if not isinstance(raw_path, str) or not raw_path.startswith("/") or \
                not isinstance(item, dict):
            continue
        shared: list[Any] = item["parameters"] if isinstance(item.get("parameters"),
                                                             list) else []
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            operations += 1
            if operations > MAX_OPERATIONS:
                said.append(f"the OpenAPI document {doc_url} has more than {MAX_OPERATIONS} "
                            f"GET/POST operations: only the first {MAX_OPERATIONS} were read")
                return points, urls
            own: list[Any] = op["parameters"] if isinstance(op.get("parameters"), list) else []
            try:
                points_, url = _operation(method.upper(), raw_path, base, [*shared, *own], op,
                                          resolver)
            except BudgetSpent as exc:
                said.append(f"the OpenAPI document {doc_url} was read only in part ({exc} "
                            f"after {operations - 1} operation(s)): its other operations were "
                            "not scanned")
                return points, urls
            points += points_
            if url and method == "get":
                urls.append(url)
    return points, urls


def _operation(method: str, raw_path: str, base: str, params: list[Any], op: dict[str, Any],
               resolver: _Resolver) -> tuple[list[InputPoint], str]:
    path_values: dict[str, str] = {}
    query: list[tuple[str, str]] = []
    form: list[tuple[str, str]] = []
    body: Any = None
    for param in params[:MAX_FIELDS]:
        param, _ = resolver.deref(param)
        if not isinstance(param, dict) or not isinstance(param.get("name"), str):
            continue
        name = param["name"]
        where = param.get("in")
        schema = param.get("schema", param)  # Swagger 2 puts type/format on the parameter
        if "example" in param and not isinstance(param["example"], dict | list):
            value: Any = param["example"]
        else:
            value = sample(schema, resolver, name)
        if where == "path":
            path_values[name] = _text(value)
        elif where == "query":
            query.append((name, _text(value)))
        elif where == "formData":
            form.append((name, _text(value)))
        elif where == "body":
            body = sample(param.get("schema", {}), resolver, name)
    request_body, _ = resolver.deref(op.get("requestBody"))
    if isinstance(request_body, dict) and isinstance(request_body.get("content"), dict):
        content = request_body["content"]
        for media, spec in content.items():
            spec, _ = resolver.deref(spec)
            if not isinstance(spec, dict):
                continue
            if "json" in str(media):
                example = spec.get("example")
                examples = spec.get("examples")
                if example is None and isinstance(examples, dict) and examples:
                    first, _ = resolver.deref(next(iter(examples.values())))
                    example = first.get("value") if isinstance(first, dict) else None
                body = example if isinstance(example, dict | list) else \
                    sample(spec.get("schema", {}), resolver)
                break
            if str(media) in ("application/x-www-form-urlencoded", "multipart/form-data"):
                value = sample(spec.get("schema", {}), resolver)
                if isinstance(value, dict):
                    form = [(str(k), _text(v)) for k, v in value.items()]
    segments = raw_path.split("/")
    path_index: dict[int, str] = {}
    for i, segment in enumerate(segments):
        if segment.startswith("{") and segment.endswith("}") and segment.count("{") == 1:
            name = segment[1:-1]
            segments[i] = quote(path_values.get(name) or sample_for_name(name), safe="")
            path_index[i] = name
        elif "{" in segment:  # /v1/models/{name}:predict: filled in, not a point of its own
            segments[i] = _TEMPLATE.sub(
                lambda m: quote(path_values.get(m.group(1)) or sample_for_name(m.group(1)),
                                safe=""), segment)
    path = "/".join(segments)
    url = base + path
    base_segments = len(urlsplit(base).path.rstrip("/").split("/")) - 1 if \
        urlsplit(base).path.strip("/") else 0
    points: list[InputPoint] = []
    for i in path_index:
        points.append(InputPoint(InputKind.PATH, method, url, str(i + base_segments),
                                 source="openapi"))
    qparams = tuple(query)
    for name, _ in query:
        points.append(InputPoint(InputKind.QUERY, method, url, name, qparams, source="openapi"))
    if form:
        fparams = tuple(form)
        for name, _ in form:
            points.append(InputPoint(InputKind.FORM, method, url, name, fparams,
                                     source="openapi"))
    if isinstance(body, dict | list) and method != "GET":
        text = json.dumps(body)
        for leaf in leaves(body):
            points.append(InputPoint(InputKind.JSON, method, url, leaf, json_body=text,
                                     source="openapi"))
    fetch = url + ("?" + urlencode(query) if query else "") if method == "GET" else ""
    return points, fetch


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)
