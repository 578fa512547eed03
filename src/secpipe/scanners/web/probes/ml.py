"""Model-serving endpoint probes: ``ml-crash``, ``ml-echo``, ``ml-internals``, ``rate-limit``.

Each is a site probe over the crawled *candidate routes* (at most :data:`MAX_ROUTES`): routes
(GET or POST) whose path names a model operation (``predict``, ``infer``, ``score``,
``classify``, ``generate``, ``embed``, ``models``, ``:predict``, ``invocations`` …) or whose
OpenAPI operation says so (operationId, summary, tags), then every other JSON POST route. A
*prediction route* is a candidate that is named so or answers its sample input like a
prediction (``label``, ``prediction``, ``probabilities`` … keys). Payloads start from the
route's *base request* (the crawled sample body, JSON numbers kept as numbers); a route whose
base request does not work (status >= 400) is not judged. A 429 met on the way is waited out
(Retry-After, at most :data:`MAX_RETRY_WAIT` s) and the request sent again, at most twice.

- ``ml-crash`` (HIGH): malformed input makes the endpoint fail instead of refusing it: wrong JSON
  types at a field (number, list, nested object, null; at most :data:`MAX_FIELDS` fields), a JSON
  list / null body, NaN and Infinity, invalid UTF-8 bytes, an empty body, a text/plain content
  type, :data:`DEEP_LEVELS` nested lists, a :data:`HUGE_BYTES` string. A 5xx, a dropped or refused
  connection (not for the huge body: closing early on it is a fair refusal) or no answer within
  the hang limit is a crash; it is confirmed by the base request still working and the payload
  failing again. A 4xx (400, 413, 415, 422) is correct behaviour. At most 4*MAX_FIELDS+9
  requests per route, plus 2 to confirm.
- ``ml-echo`` (MEDIUM, prediction routes): a 2xx answer whose JSON carries our whole input
  verbatim: a text sample with a canary appended inside a string, or a number / number vector
  moved by a random amount as the same value. At most 3 requests per route.
- ``ml-internals`` (MEDIUM): the prediction or an error answer (to a wrong-type and an empty
  input; crawled pages of the route too) exposes model internals: a probability per class name
  (the full vector, not just the label), feature names / vocabulary, coefficients / weights,
  model file paths, ML library versions, or a traceback / error message from the model library
  (generic tracebacks are ``stack-trace``, not here). At most 2 requests per route.
- ``rate-limit`` (MEDIUM, prediction routes whose base request answers 2xx; at most
  :data:`MAX_RATE_ROUTES`): a burst of :data:`BURST` concurrent requests answered without
  any 429, ``Retry-After`` or ``RateLimit`` header, with at least 90 % of them 2xx.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import threading
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.web.model import (
    Exchange,
    InputKind,
    InputPoint,
    Request,
    Response,
    WebFinding,
)
from secpipe.scanners.web.probes import ProbeContext

#: routes examined per site
MAX_ROUTES = 20
#: JSON fields per route that get the wrong-type payloads
MAX_FIELDS = 4
#: size of the oversized string (request body; the client only caps response bodies)
HUGE_BYTES = 2 << 20
#: nesting depth of the deep JSON payload
DEEP_LEVELS = 10_000
#: the hang limit is max(MIN_HANG_SECONDS, HANG_FACTOR * base latency), never above the client's
MIN_HANG_SECONDS = 5.0
HANG_FACTOR = 10.0
#: requests in one rate-limit burst, and how many are in flight at once
BURST = 40
BURST_WORKERS = 8
#: prediction routes that get a burst
MAX_RATE_ROUTES = 8
#: longest wait for a 429's Retry-After before a payload is sent again (seconds)
MAX_RETRY_WAIT = 2.0
_MAX_WALK = 20_000
_MAX_TEXT = 512 * 1024

_ML_WORDS = (r"predict(?:ions?|or)?|infer(?:ence)?|scor(?:e|ing)|classif(?:y|ier|ication)|"
             r"generat(?:e|ion)|completions?|embed(?:dings?|s)?|invocations|detect(?:ion)?|"
             r"sentiment|forecast|recommend(?:ations?)?|summari[sz]e|translate|models?|ml|"
             r"tokeni[sz]e|moderat(?:e|ion)")
_ML_PATH = re.compile(rf"(?i)(?:^|[/_.:-])(?:{_ML_WORDS})(?=$|[/_.:-])")
_ML_TEXT = re.compile(rf"(?i)\b(?:{_ML_WORDS}|model)\b")
_PRED_KEYS = frozenset({
    "prediction", "predictions", "predicted", "label", "labels", "predictedlabel", "class",
    "classes", "predictedclass", "probability", "probabilities", "proba", "probs", "scores",
    "confidence", "logits", "embedding", "embeddings", "generatedtext", "completion", "choices",
    "sentiment", "forecast", "verdict", "isspam", "anomaly", "anomalyscore", "score", "topk",
    "yhat", "ypred", "generated", "translation", "contributions", "shap"})
_RATE_HEADERS = ("retry-after", "ratelimit", "ratelimit-limit", "ratelimit-remaining",
                 "ratelimit-policy", "x-ratelimit-limit", "x-ratelimit-remaining",
                 "x-rate-limit-limit", "x-rate-limit-remaining", "x-ratelimit-reset")

#: a file system path (not a URL, not a static asset) to a serialized model
_MODEL_PATH = re.compile(
    r"(?:\b[A-Za-z]:\\|(?<![\w:/.~-])/(?!static/|assets/|public/))"
    r"(?:[\w.@+-]+[/\\])*[\w.@+-]+\.(?:pkl|pickle|joblib|pt|pth|onnx|h5|hdf5|keras|safetensors|"
    r"ckpt|pb|tflite|sav|gguf|mlmodel|pmml|cbm|lgb|xgb|ubj)\b")
_LIBS = (r"scikit[-_ ]?learn|sklearn|torch|pytorch|tensorflow|keras|xgboost|lightgbm|catboost|"
         r"transformers|onnxruntime|onnx|joblib|numpy|pandas|scipy|mlflow|spacy|tokenizers")
_LIB_VERSION = re.compile(
    rf"(?i)\b({_LIBS})(?:[_ -]?(?:version|ver))?[\"']?\s*(?:==|[:=/@ ])\s*[\"']?v?"
    r"(\d+\.\d+(?:\.\d+)?)")
_LIB_FRAME = re.compile(
    rf"(?i)(?:site|dist)-packages[/\\](?:{_LIBS.replace('scikit[-_ ]?learn|', '')})[/\\]")
_ML_ERRORS = re.compile(
    r"X has \d+ features?,? but \w+ is expecting \d+ features?"
    r"|Input (?:X )?contains (?:NaN|infinity)"
    r"|Expected 2D array, got (?:1D|scalar) array instead"
    r"|This \w+ instance is not fitted yet"
    r"|The feature names should match those that were passed during fit"
    r"|feature_names mismatch"
    r"|mat1 and mat2 shapes cannot be multiplied"
    r"|size mismatch for [\w.]+"
    r"|Expected all tensors to be on the same device"
    r"|\[ONNXRuntimeError\]"
    r"|Input 0 of layer [\"']?\w+"
    r"|columns are missing: \{"
    r"|sklearn\.exceptions\.\w+"
    r"|torch\.\w*Error")
_IDENT = r"['\"]?[A-Za-z_][\w.-]*['\"]?"
_FEATURE_LIST = re.compile(
    rf"(?i)\bfeature(?:s|[ _]names?|[ _]columns?)\b[^\[\n]{{0,40}}\[\s*{_IDENT}\s*"
    rf"(?:,\s*{_IDENT}\s*)+\]")
_ESTIMATOR = re.compile(
    r"\b(?:LogisticRegression|RandomForest(?:Classifier|Regressor)|GradientBoosting\w+|"
    r"TfidfVectorizer|CountVectorizer|MultinomialNB|LinearSVC|SGDClassifier|XGBClassifier|"
    r"LGBMClassifier|DecisionTree\w+|KNeighbors\w+|MLPClassifier|Sequential|nn\.Module|"
    r"InferenceSession|AutoModel\w*|Pipeline\(steps)")
_INTERNAL_KEYS = {
    "featurenames": "feature names", "featurenamesin": "feature names",
    "vocabulary": "vocabulary", "vocab": "vocabulary", "coef": "coefficients",
    "coefs": "coefficients", "coefficients": "coefficients", "weights": "weights",
    "intercept": "coefficients", "featureimportances": "feature importances",
    "featureimportance": "feature importances", "idf": "vocabulary weights",
    "hyperparameters": "hyperparameters", "modelparams": "hyperparameters",
    "nfeaturesin": "feature count", "statedict": "weights"}
_GENERIC_SCORE_KEYS = frozenset({"score", "confidence", "probability", "threshold", "latency",
                                 "elapsed", "time", "version"})


# --- routes ------------------------------------------------------------------------------------
@dataclass
class MlRoute:
    """One ML route: its points and the request every payload starts from."""

    method: str
    url: str
    points: list[InputPoint]
    named: bool

    @property
    def base(self) -> InputPoint:
        for point in self.points:
            if point.kind is InputKind.JSON:
                return point
        return self.points[0]

    @property
    def is_json(self) -> bool:
        return self.base.kind is InputKind.JSON

    def base_request(self) -> Request:
        point = self.base
        if point.kind is InputKind.JSON:
            return point.request("", raw_json=_raw_at(point))
        return point.request(point.original())

    def json_fields(self) -> list[InputPoint]:
        return [p for p in self.points if p.kind is InputKind.JSON][:MAX_FIELDS]

    def echo_fields(self) -> list[InputPoint]:
        """Text fields first, then numbers and number vectors; at most 3."""
        text: list[InputPoint] = []
        numbers: list[InputPoint] = []
        for point in self.points:
            if point.kind is InputKind.JSON:
                raw = _raw_at(point)
                if isinstance(raw, str):
                    text.append(point)
                elif _number(raw) or (isinstance(raw, list) and 0 < len(raw) <= 256
                                      and all(_number(v) for v in raw)):
                    numbers.append(point)
            elif point.kind in (InputKind.QUERY, InputKind.FORM) \
                    and not _numeric(point.original()):
                text.append(point)
        return (text + numbers)[:3]


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    compute: threading.Lock = field(default_factory=threading.Lock)
    routes: list[MlRoute] | None = None
    bases: dict[tuple[str, str], Response] = field(default_factory=dict)


_STATES: weakref.WeakKeyDictionary[Any, _State] = weakref.WeakKeyDictionary()
_STATES_LOCK = threading.Lock()


def _state(ctx: ProbeContext) -> _State:
    """Per-scan memo (keyed by the scan's client): the routes and their base answers."""
    with _STATES_LOCK:
        try:
            state = _STATES.get(ctx.client)
            if state is None:
                state = _STATES[ctx.client] = _State()
        except TypeError:
            state = _State()
    return state


def send(ctx: ProbeContext, request: Request, timeout: float | None = None) -> Response:
    """``request`` sent; a 429 is waited out (its Retry-After, at most
    :data:`MAX_RETRY_WAIT` s) and retried up to twice, so a rate limit met on the way does not
    hide what the payload does."""
    response = ctx.client.send(request, timeout=timeout)
    for _ in range(2):
        if not _throttled(response) or ctx.cancel.is_set():
            break
        ctx.cancel.wait(_retry_after(response))
        response = ctx.client.send(request, timeout=timeout)
    return response


def _throttled(response: Response) -> bool:
    """429, or 503 with Retry-After: the target asks us to slow down (no crash)."""
    return response.status == 429 or (response.status == 503
                                      and response.header("retry-after") is not None)


def _retry_after(response: Response) -> float:
    value = (response.header("retry-after") or "").strip()
    try:
        wait = float(value)
    except ValueError:
        wait = 1.0
    return min(max(wait, 0.2), MAX_RETRY_WAIT)


def base_response(ctx: ProbeContext, route: MlRoute) -> Response:
    """The route's answer to its base request (sent once per scan)."""
    state = _state(ctx)
    key = (route.method, route.url)
    with state.lock:
        cached = state.bases.get(key)
    if cached is not None:
        return cached
    response = send(ctx, route.base_request())
    with state.lock:
        state.bases[key] = response
    return response


def ml_routes(ctx: ProbeContext) -> list[MlRoute]:
    """Candidate routes, computed once per scan: every route named like a model operation
    (GET or POST) and every JSON POST route, the named ones first, at most
    :data:`MAX_ROUTES`. ``ml-crash`` and ``ml-internals`` test them all; ``ml-echo`` and
    ``rate-limit`` only the :func:`prediction_route` ones."""
    state = _state(ctx)
    with state.compute:
        if state.routes is None:
            state.routes = _find_routes(ctx)
        return state.routes


def prediction_route(ctx: ProbeContext, route: MlRoute) -> bool:
    """Named like a model operation, or answering its sample input like a prediction."""
    return route.named or prediction_like(base_response(ctx, route))


def _find_routes(ctx: ProbeContext) -> list[MlRoute]:
    groups: dict[tuple[str, str], list[InputPoint]] = {}
    for point in ctx.site.points:
        if point.kind not in (InputKind.JSON, InputKind.QUERY, InputKind.FORM):
            continue
        if point.route in ctx.site.unauthorised or point.method.upper() not in ("GET", "POST"):
            continue
        parts = urlsplit(point.url)
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        groups.setdefault((point.method.upper(), url), []).append(point)
    spec_routes = _openapi_ml_paths(ctx.site.openapi)
    named: list[MlRoute] = []
    other: list[MlRoute] = []
    for (method, url), points in groups.items():
        path = urlsplit(url).path or "/"
        is_named = bool(_ML_PATH.search(path)) or any(r.search(path) for r in spec_routes)
        route = MlRoute(method, url, points, is_named)
        if is_named:
            named.append(route)
        elif method == "POST" and route.is_json:
            other.append(route)
    return (named + other)[:MAX_ROUTES]


def _openapi_ml_paths(doc: dict[str, Any] | None) -> list[re.Pattern[str]]:
    out: list[re.Pattern[str]] = []
    paths = doc.get("paths") if isinstance(doc, dict) else None
    if not isinstance(paths, dict):
        return out
    for path, ops in list(paths.items())[:500]:
        if not isinstance(path, str) or not isinstance(ops, dict):
            continue
        for op in ops.values():
            if not isinstance(op, dict):
                continue
            tags = op.get("tags")
            words = [str(op.get(k) or "") for k in ("operationId", "summary", "description")]
            words += [str(t) for t in tags] if isinstance(tags, list) else []
            if _ML_TEXT.search(" ".join(words)[:4000]):
                parts = re.split(r"\{[^}/]*\}", path)
                out.append(re.compile("(?:^|/)" + "[^/]+".join(map(re.escape, parts))
                                      .lstrip("/") + "$"))
                break
    return out


def prediction_like(response: Response) -> bool:
    """A 2xx JSON answer with prediction-ish keys at its top or second level."""
    if not 200 <= response.status < 300:
        return False
    doc = _json(response)
    items = doc if isinstance(doc, list) else [doc]
    for item in items[:5]:
        if isinstance(item, dict):
            keys = {_norm(k) for k in item}
            for value in list(item.values())[:50]:
                if isinstance(value, dict):
                    keys |= {_norm(k) for k in value}
            if keys & _PRED_KEYS:
                return True
    return False


# --- helpers -----------------------------------------------------------------------------------
def _norm(key: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(key).lower())


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _numeric(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _raw_at(point: InputPoint) -> Any:
    """The point's sample value as JSON (a number stays a number)."""
    try:
        doc: Any = json.loads(point.json_body or "{}")
    except ValueError:
        return point.original()
    for part in [p for p in point.name.split(".") if p]:
        if isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        elif isinstance(doc, dict) and part in doc:
            doc = doc[part]
        else:
            return ""
    return doc


def _json(response: Response) -> Any:
    if not response.body or response.truncated:
        return None
    try:
        return json.loads(response.body[:_MAX_TEXT])
    except (ValueError, RecursionError):
        return None


def _walk(doc: Any) -> Iterator[tuple[str, Any, Any]]:
    """(key, value, parent) of every node, breadth-first, bounded."""
    queue: list[tuple[str, Any, Any]] = [("", doc, None)]
    seen = 0
    while queue and seen < _MAX_WALK:
        key, value, parent = queue.pop(0)
        seen += 1
        yield key, value, parent
        if isinstance(value, dict):
            queue.extend((str(k), v, value) for k, v in list(value.items())[:1000])
        elif isinstance(value, list):
            queue.extend((key, v, value) for v in value[:1000])


def _works(response: Response) -> bool:
    return 0 < response.status < 400


def _finding(kind: str, title: str, severity: Severity, route: MlRoute, request: Request,
             message: str, evidence: tuple[Exchange, ...], proof: str, cwe: str,
             remediation: str, param: str = "",
             confidence: Confidence = Confidence.HIGH) -> WebFinding:
    return WebFinding(kind=kind, title=title, severity=severity, url=request.url,
                      method=request.method, param=param, message=message, evidence=evidence,
                      proof=proof[:500], confidence=confidence, cwe=cwe,
                      remediation=remediation)


def _with_body(request: Request, body: bytes, content_type: str | None = None) -> Request:
    out = Request(request.method, request.url, request.headers, body)
    if content_type is not None:
        out = out.with_header("Content-Type", content_type)
    return out


_PLACEHOLDER = "__secpipe_placeholder__"


def _splice(point: InputPoint, raw: bytes) -> Request:
    """The point's request with ``raw`` bytes (any JSON or not) as the field's value."""
    request = point.request("", raw_json=_PLACEHOLDER)
    body = request.body.replace(json.dumps(_PLACEHOLDER).encode(), raw, 1)
    return _with_body(request, body)


# --- ml-crash ----------------------------------------------------------------------------------
def crash_payloads(route: MlRoute) -> Iterator[tuple[str, Request, bool, str]]:
    """(description, request, huge, param label) of every malformed input, in order."""
    base = route.base_request()
    point = route.base
    name = point.label
    if route.is_json:
        for field_point in route.json_fields():
            for label, raw in (("a number", 12345), ("a list", [ProbeContext.canary()]),
                               ("a nested object", {"a": {"b": [1, {"c": None}]}}),
                               ("null", None)):
                request = field_point.request("", raw_json=raw)
                yield f"{field_point.label} set to {label}", request, False, field_point.label
        yield "a JSON list as the body", _with_body(base, b"[]"), False, ""
        yield "JSON null as the body", _with_body(base, b"null"), False, ""
        numeric = next((p for p in route.json_fields() if _numbers(_raw_at(p))), point)
        text = next((p for p in route.json_fields() if isinstance(_raw_at(p), str)), point)
        for token in (b"NaN", b"-Infinity"):
            yield (f"{numeric.label} set to {token.decode()}", _non_finite(numeric, token), False,
                   numeric.label)
        yield (f"{text.label} with invalid UTF-8 bytes", _splice(text, b'"\xff\xfe\xc3("'),
               False, text.label)
        yield "an empty body", _with_body(base, b""), False, ""
        yield "a text/plain Content-Type", _with_body(base, base.body, "text/plain"), False, ""
        deep = b"[" * DEEP_LEVELS + b"]" * DEEP_LEVELS
        yield f"{name} nested {DEEP_LEVELS} levels deep", _splice(point, deep), False, name
        huge = b'"' + b"A" * HUGE_BYTES + b'"'
        yield (f"{text.label} set to a {HUGE_BYTES >> 20} MiB string", _splice(text, huge), True,
               text.label)
        return
    yield f"{name} missing", _without(point), False, name
    yield f"{name} empty", point.request(""), False, name
    yield f"{name} with invalid UTF-8 bytes", _raw_value(point, "%FF%FE%C3%28"), False, name
    yield f"{name} given twice", _raw_value(point, "a&" + point.name + "=b"), False, name
    size = HUGE_BYTES if point.kind is InputKind.FORM and route.method != "GET" else 64 * 1024
    yield f"{name} set to a {size >> 10} KiB string", point.request("A" * size), True, name


def _numbers(raw: Any) -> bool:
    return _number(raw) or (isinstance(raw, list) and bool(raw) and all(map(_number, raw)))


def _non_finite(point: InputPoint, token: bytes) -> Request:
    """The point set to ``token`` (NaN, -Infinity); a number vector gets it as its first item."""
    raw = _raw_at(point)
    if not (isinstance(raw, list) and raw):
        return _splice(point, token)
    request = point.request("", raw_json=[_PLACEHOLDER, *raw[1:]])
    return _with_body(request, request.body.replace(json.dumps(_PLACEHOLDER).encode(), token, 1))


def _without(point: InputPoint) -> Request:
    request = point.request("")
    params = [(k, v) for k, v in point.params if k != point.name]
    return _params_request(point, request, urlencode(params))


def _raw_value(point: InputPoint, raw: str) -> Request:
    """The point's request with ``raw`` (already URL-encoded) as its value."""
    request = point.request(_PLACEHOLDER)
    encoded = urlencode([(point.name, _PLACEHOLDER)]).split("=", 1)[1]
    if request.body:
        return _with_body(request, request.body.replace(encoded.encode(), raw.encode(), 1))
    return Request(request.method, request.url.replace(encoded, raw, 1), request.headers)


def _params_request(point: InputPoint, request: Request, query: str) -> Request:
    if request.body:
        return _with_body(request, query.encode())
    parts = urlsplit(request.url)
    return Request(request.method, urlunsplit((parts.scheme, parts.netloc, parts.path, query, "")),
                   request.headers)


def _cut_short(ctx: ProbeContext, timeout: float) -> bool:
    """Whether the scan's time budget, not the target, may have ended a request (then a
    timeout proves nothing)."""
    sender: Any = ctx.client
    for _ in range(4):  # the client itself, or wrapped (auth.AuthedSender keeps it as .inner)
        remaining = getattr(sender, "remaining_seconds", None)
        if callable(remaining):
            return float(remaining()) < timeout + 1.0
        sender = getattr(sender, "inner", None)
        if sender is None:
            break
    return False


def _crashed(response: Response, huge: bool) -> str:
    """Why ``response`` is a crash, '' when it is not."""
    if response.status >= 500 and not _throttled(response):
        return f"HTTP {response.status}"
    if response.status == 0:
        if response.error == "timeout":
            return "no answer within the hang limit"
        if huge and response.error == "connection reset":
            return ""  # closing early on an oversized body is a fair refusal
        return f"the connection failed ({response.error or 'no response'})"
    return ""


class MlCrashProbe:
    """``ml-crash``: see the module docstring."""

    kind = "ml-crash"

    def run_site(self, ctx: ProbeContext) -> list[WebFinding]:
        findings: list[WebFinding] = []
        for route in ml_routes(ctx):
            if ctx.cancel.is_set():
                break
            found = self._route(ctx, route)
            if found is not None:
                findings.append(found)
        return findings

    def _route(self, ctx: ProbeContext, route: MlRoute) -> WebFinding | None:
        base = base_response(ctx, route)
        if not _works(base):
            return None
        limit = max(MIN_HANG_SECONDS, HANG_FACTOR * base.elapsed)
        for label, request, huge, param in crash_payloads(route):
            timeout = limit * (2 if huge else 1)
            response = send(ctx, request, timeout)
            why = _crashed(response, huge)
            if not why or (response.error == "timeout" and _cut_short(ctx, timeout)):
                continue
            again = send(ctx, route.base_request())
            if _throttled(again):
                continue  # slowed down: no verdict on this payload
            if not _works(again):
                confidence = Confidence.MEDIUM
                after = (f" Afterwards the valid sample input failed too "
                         f"({again.status or again.error}): the service may have gone down.")
                evidence = (Exchange(request, response),
                            Exchange(route.base_request(), again))
            else:
                repeat = send(ctx, request, timeout)
                if not _crashed(repeat, huge):
                    continue  # not reproducible: a transient failure
                confidence = Confidence.HIGH
                after = " The valid sample input still works, and the payload fails again."
                evidence = (Exchange(request, response), Exchange(request, repeat))
            return _finding(
                "ml-crash", "Model endpoint crashes on malformed input", Severity.HIGH, route,
                request,
                f"{route.method} {urlsplit(route.url).path} fails with {why} when given {label} "
                f"instead of refusing it with a 4xx.{after}",
                evidence, f"{label}: {why}", "CWE-400",
                "Validate the request body against a schema (types, sizes, depth, finite "
                "numbers) before it reaches the model; answer 400/413/415 on bad input; bound "
                "inference time.",
                param=param, confidence=confidence)
        return None


# --- ml-echo -----------------------------------------------------------------------------------
class MlEchoProbe:
    """``ml-echo``: see the module docstring."""

    kind = "ml-echo"

    def run_site(self, ctx: ProbeContext) -> list[WebFinding]:
        findings: list[WebFinding] = []
        for route in ml_routes(ctx):
            if ctx.cancel.is_set():
                break
            if not _works(base_response(ctx, route)) or not prediction_route(ctx, route):
                continue
            for point in route.echo_fields():
                found = self._point(ctx, route, point)
                if found is not None:
                    findings.append(found)
                    break
        return findings

    @staticmethod
    def _point(ctx: ProbeContext, route: MlRoute, point: InputPoint) -> WebFinding | None:
        raw = _raw_at(point) if point.kind is InputKind.JSON else point.original()
        sent: Any
        if isinstance(raw, str):
            canary = ctx.canary()
            sent = (raw + " " + canary).strip()
            request = point.request(sent)
        else:  # numbers: the sample moved by a random amount no answer contains by chance
            sent = _perturbed(raw)
            canary = json.dumps(sent)
            request = point.request("", raw_json=sent)
        response = send(ctx, request)
        if not 200 <= response.status < 300:
            return None
        where = _echo_field(_json(response), sent)
        if where is None:
            return None
        return _finding(
            "ml-echo", "Model endpoint echoes its input", Severity.MEDIUM, route, request,
            f"The prediction answer returns the raw input of {point.label} verbatim in the JSON "
            f"field {where!r}: a reflection / data-leak channel (inputs can carry personal "
            "data, and echoed text lands in logs and clients).",
            (Exchange(request, response),), canary, "CWE-200",
            "Return only the prediction (label, score); do not echo the request.",
            param=point.label)


def _perturbed(raw: Any) -> Any:
    if isinstance(raw, list):
        return [_perturbed(v) for v in raw]
    return round(float(raw) + (secrets.randbelow(900_000) + 100_000) / 1e9, 9)


def _echo_field(doc: Any, sent: Any) -> str | None:
    """Where the whole input we sent is in the answer: for text, the sample with its canary
    (a translation or summary that copies our odd token is not an echo of the input); for
    numbers, the same perturbed value or vector."""
    if doc is None:
        return None
    for key, value, _parent in _walk(doc):
        if isinstance(sent, str):
            if isinstance(value, str) and sent in value:
                return key or "(top level)"
        elif type(value) is type(sent) and value == sent:
            return key or "(top level)"
    return None


# --- ml-internals ------------------------------------------------------------------------------
def internals(response: Response) -> list[str]:
    """What of the model's internals ``response`` exposes (empty when nothing)."""
    text = response.text[:_MAX_TEXT]
    doc = _json(response)
    if doc is not None:  # JSON escapes hide paths and frames: read its strings decoded too
        strings = "\n".join(v for _k, v, _p in _walk(doc) if isinstance(v, str))
        text += "\n" + strings[:_MAX_TEXT]
    found: list[str] = []
    path = _MODEL_PATH.search(text)
    if path:
        found.append(f"model file path {path.group(0)!r}")
    for match in list(_LIB_VERSION.finditer(text))[:3]:
        found.append(f"library version {match.group(1)} {match.group(2)}")
    features = _FEATURE_LIST.search(text)
    if features:
        found.append(f"feature names {features.group(0)[:120]!r}")
    error = _ML_ERRORS.search(text)
    if error:
        found.append(f"model library error {error.group(0)!r}")
    if "Traceback (most recent call last)" in text or "File \"" in text:
        frame = _LIB_FRAME.search(text)
        if frame:
            found.append(f"traceback through {frame.group(0)!r}")
        estimator = _ESTIMATOR.search(text)
        if estimator and not frame:
            found.append(f"traceback naming the model {estimator.group(0)!r}")
    if doc is not None:
        found += _json_internals(doc)
    return list(dict.fromkeys(found))


def _json_internals(doc: Any) -> list[str]:
    found: list[str] = []
    for key, value, parent in _walk(doc):
        name = _norm(key)
        if isinstance(value, dict) and _probability_map(value):
            found.append(f"a probability for every class ({', '.join(list(value)[:6])})")
        elif isinstance(value, list) and _probability_records(value):
            found.append("a probability for every class (list of label/score records)")
        if parent is not None and isinstance(parent, dict) and key in parent:
            what = _INTERNAL_KEYS.get(name)
            if what and _substantial(value):
                found.append(f"{what} ({key!r})")
            elif name == "classes" and isinstance(value, list) and len(value) >= 2 \
                    and _sibling_vector(parent, len(value)):
                found.append(f"class names with their probability vector ({key!r})")
    return found


def _probability_map(value: dict[Any, Any]) -> bool:
    if len(value) < 2 or len(value) > 10_000:
        return False
    if {_norm(k) for k in value} & _GENERIC_SCORE_KEYS:
        return False
    numbers = list(value.values())
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
        return False
    if not all(0.0 <= float(v) <= 1.0 for v in numbers):
        return False
    return abs(sum(float(v) for v in numbers) - 1.0) <= 0.02


def _probability_records(value: list[Any]) -> bool:
    if len(value) < 2 or not all(isinstance(v, dict) for v in value):
        return False
    scores: list[float] = []
    for item in value:
        names = [v for v in item.values() if isinstance(v, str)]
        nums = [float(v) for v in item.values()
                if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if not names or len(nums) != 1 or not 0.0 <= nums[0] <= 1.0:
            return False
        scores.append(nums[0])
    return abs(sum(scores) - 1.0) <= 0.02


def _sibling_vector(parent: dict[Any, Any], size: int) -> bool:
    for value in parent.values():
        if isinstance(value, list) and len(value) == size and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return True
        if isinstance(value, list) and value and isinstance(value[0], list) \
                and len(value[0]) == size:
            return True
    return False


def _substantial(value: Any) -> bool:
    if isinstance(value, (list, dict)):
        return len(value) >= 2
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class MlInternalsProbe:
    """``ml-internals``: see the module docstring."""

    kind = "ml-internals"

    def run_site(self, ctx: ProbeContext) -> list[WebFinding]:
        findings: list[WebFinding] = []
        done: set[str] = set()
        for route in ml_routes(ctx):
            if ctx.cancel.is_set():
                break
            base = base_response(ctx, route)
            if not base.ok:
                continue
            exchanges = [Exchange(route.base_request(), base)]
            for request in self._error_requests(route):
                exchanges.append(Exchange(request, send(ctx, request)))
            found = self._judge(route, exchanges)
            if found is not None:
                findings.append(found)
                done.add(urlsplit(route.url).path)
        for exchange in ctx.site.pages:  # passive: what the crawl already saw
            path = urlsplit(exchange.request.url).path or "/"
            if path in done or not (_ML_PATH.search(path) or prediction_like(exchange.response)):
                continue
            route = MlRoute(exchange.request.method.upper(), exchange.request.url, [], True)
            found = self._judge(route, [exchange])
            if found is not None:
                findings.append(found)
                done.add(path)
        return findings

    @staticmethod
    def _error_requests(route: MlRoute) -> list[Request]:
        if route.is_json:
            point = route.base
            return [point.request("", raw_json=[ProbeContext.canary()]),
                    _with_body(route.base_request(), b"{}")]
        return [_without(route.base)]

    @staticmethod
    def _judge(route: MlRoute, exchanges: list[Exchange]) -> WebFinding | None:
        for exchange in exchanges:
            leaks = internals(exchange.response)
            if not leaks:
                continue
            request = exchange.request
            answer = "prediction" if 200 <= exchange.response.status < 300 else \
                f"error answer (HTTP {exchange.response.status})"
            return _finding(
                "ml-internals", "Model endpoint exposes model internals", Severity.MEDIUM,
                route, request,
                f"The {answer} of {request.method} {urlsplit(request.url).path} exposes "
                f"{'; '.join(leaks[:6])}.",
                (exchange,), "; ".join(leaks)[:500], "CWE-497",
                "Answer with the label (and at most a top score); keep class lists, feature "
                "names, weights, file paths, library versions and model errors in the "
                "server's logs.")
        return None


# --- rate-limit --------------------------------------------------------------------------------
def _limited(response: Response) -> str:
    if response.status == 429:
        return "HTTP 429"
    for name, _value in response.headers:
        if name.lower() in _RATE_HEADERS or name.lower().startswith(("x-ratelimit",
                                                                     "x-rate-limit")):
            return f"header {name}"
    return ""


class RateLimitProbe:
    """``rate-limit``: see the module docstring."""

    kind = "rate-limit"

    def run_site(self, ctx: ProbeContext) -> list[WebFinding]:
        findings: list[WebFinding] = []
        tested = 0
        for route in ml_routes(ctx):
            if tested >= MAX_RATE_ROUTES or ctx.cancel.is_set():
                break
            base = base_response(ctx, route)
            if not 200 <= base.status < 300 or not prediction_route(ctx, route):
                continue
            tested += 1
            if _limited(base):
                continue
            request = route.base_request()
            with ThreadPoolExecutor(max_workers=BURST_WORKERS,
                                    thread_name_prefix="secpipe-burst") as pool:
                futures = [pool.submit(ctx.client.send, request) for _ in range(BURST)]
                responses = [f.result() for f in futures]
            if any(_limited(r) for r in responses):
                continue
            good = sum(1 for r in responses if 200 <= r.status < 300)
            if good < math.ceil(0.9 * BURST):
                ctx.log(f"rate-limit: {route.url}: {BURST - good} of {BURST} burst requests "
                        "failed; no verdict")
                continue
            last = responses[-1]
            findings.append(_finding(
                "rate-limit", "Prediction endpoint has no rate limit", Severity.MEDIUM, route,
                request,
                f"{BURST} concurrent requests to {route.method} {urlsplit(route.url).path} "
                f"were all served ({good} answered 2xx) with no 429, Retry-After or RateLimit "
                "header: the model can be scraped (model extraction) or exhausted.",
                (Exchange(request, last),), f"{good}/{BURST} 2xx, no 429", "CWE-770",
                "Limit requests per client (and globally) on inference routes; answer 429 with "
                "Retry-After beyond the limit."))
        return findings


PROBES = [MlCrashProbe(), MlEchoProbe(), MlInternalsProbe(), RateLimitProbe()]
