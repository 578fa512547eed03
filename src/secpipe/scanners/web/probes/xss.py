"""Cross-site scripting probes: reflected (per input point) and stored (once per site).

Reflected (``xss-reflected``): a plain canary first shows whether and *where* the value comes
back; the HTML is parsed (``html.parser``, bounded) to find each context the canary sits in:
HTML text, an RCDATA element (``textarea``/``title``), a comment, an attribute value (double,
single or no quotes), a URL attribute whose value starts with it (``href``/``src``/``action``),
an event-handler attribute, or inside a ``<script>`` block (code, a single/double quoted string,
a template literal; a small JavaScript tokenizer says which). Then, per distinct context, a
payload carrying a *fresh* canary tries the breakout that context needs, and the response is
parsed again: the finding needs a new element named after the canary, a new attribute named
after it, a ``javascript:`` URL carrying it, or the canary in JavaScript *code* (outside any
string or comment). Substring matches never decide. Only HTML responses count (``text/html``,
XHTML, or no content type with an HTML-looking body): a reflection in JSON or ``text/plain`` is
not executable in a browser.

Requests per point: 1 canary (2 when the bare canary is not reflected: then the sample value is
kept in front of it and of every payload) + at most :data:`MAX_PAYLOADS` payloads (9 in all).

Stored (``xss-stored``): each POST form / JSON endpoint that looks harmless (not login,
password, delete, payment … by its URL or field names) gets, per text field (at most
:data:`STORED_FIELDS`), one submission of ``'"><CANARY>``; then pages are fetched again (at most
:data:`STORED_PAGES`: redirect targets and the forms' own URLs first, then the crawled HTML pages
under a form's first path segment, then the others) and parsed: a new element named after a
submitted canary proves the stored value is rendered unescaped. Requests: at most
``STORED_FORMS * STORED_FIELDS + STORED_PAGES`` per site.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.web.model import (
    Exchange,
    InputKind,
    InputPoint,
    Request,
    Response,
    Site,
    WebFinding,
)
from secpipe.scanners.web.probes import ProbeContext

MAX_PAYLOADS = 7
"""Breakout payloads per point after the canary request."""
MAX_PARSE_CHARS = 1 << 20
MAX_CLOSE_TAIL = 4096
"""Longest unparsed tail (an unterminated comment or tag) finished by ``close()``."""
"""HTML beyond this many characters is not parsed (the rest of the page is not evidence)."""
STORED_FORMS = 12
STORED_FIELDS = 4
STORED_PAGES = 40

CWE = "CWE-79"
REMEDIATION = ("Encode output for its context (HTML text, attribute, JavaScript string, URL); use "
               "a template engine with auto-escaping; validate URL schemes; add a strict CSP.")

_RAW_TEXT = frozenset({"textarea", "title", "xmp", "noembed", "noframes", "iframe", "plaintext",
                       "noscript"})
_URL_ATTRS = frozenset({"href", "src", "action", "formaction", "data", "poster", "xlink:href",
                        "background"})
_JS_TYPES = frozenset({"", "text/javascript", "application/javascript", "module",
                       "text/ecmascript", "application/ecmascript", "text/jscript"})
_ATTR_RE = re.compile(
    r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")
_CONTROL = re.compile(r"[\x00-\x20]+")
_COMMENT_END = re.compile(r"--!?>")


def is_html_response(response: Response) -> bool:
    """An HTML response a browser renders as HTML: declared so, or undeclared and HTML-looking
    (browsers sniff a body without a content type). A redirect with a ``Location`` is never
    rendered (the browser follows it), whatever its body says."""
    if 300 <= response.status < 400 and response.header("location"):
        return False
    if response.is_html:
        return True
    if response.content_type:
        return False
    head = response.body[:1024].lstrip().lower()
    return bool(re.match(rb"<(!doctype html|html|head|body|script|div|p|a|form|table|h\d)\b",
                         head))


@dataclass
class _Attr:
    tag: str
    name: str
    value: str
    quote: str
    """``"``, ``'`` or '' (unquoted)."""
    raw_context: bool
    """Inside an element whose content is raw text to a browser (textarea, title …)."""


@dataclass
class _Parsed:
    """What a page contains, as a browser would see it (approximately)."""

    tags: list[str] = field(default_factory=list)
    """Element names opened outside raw-text elements."""
    attrs: list[_Attr] = field(default_factory=list)
    texts: list[tuple[str, str]] = field(default_factory=list)
    """(enclosing raw-text element or '', text)."""
    scripts: list[str] = field(default_factory=list)
    """Contents of JavaScript ``<script>`` blocks."""
    data_scripts: list[str] = field(default_factory=list)
    """Contents of other ``<script>`` blocks (JSON, templates): text, unless broken out of."""
    comments: list[str] = field(default_factory=list)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = _Parsed()
        self._raw: str = ""
        self._script = False
        self._script_js = True
        self._chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raw_text = self.get_starttag_text() or ""
        inside_raw = bool(self._raw)
        if not inside_raw:
            self.out.tags.append(tag)
        for match in _ATTR_RE.finditer(raw_text[len(tag) + 1:].rstrip(">").rstrip("/")):
            name = match.group(1).lower()
            if match.group(2) is not None:
                quote, value = '"', match.group(2)
            elif match.group(3) is not None:
                quote, value = "'", match.group(3)
            else:
                quote, value = "", match.group(4) or ""
            self.out.attrs.append(_Attr(tag, name, html.unescape(value), quote, inside_raw))
        if inside_raw:
            return
        if tag in _RAW_TEXT:
            self._raw = tag
        elif tag == "script":
            self._script = True
            kind = next((v or "" for k, v in attrs if k == "type"), "")
            self._script_js = kind.split(";")[0].strip().lower() in _JS_TYPES
            self._chunks = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        saved_raw = self._raw
        self.handle_starttag(tag, attrs)
        if not saved_raw:
            self._raw = ""
            if self._script and tag == "script":
                self._script = False

    def handle_endtag(self, tag: str) -> None:
        if self._raw:
            if tag == self._raw:
                self._raw = ""
            return
        if tag == "script" and self._script:
            self._end_script()
            self._chunks = []

    def handle_data(self, data: str) -> None:
        if self._script:
            self._chunks.append(data)
        else:
            self.out.texts.append((self._raw, data))

    def handle_comment(self, data: str) -> None:
        if self._raw:
            self.out.texts.append((self._raw, data))
        else:
            self.out.comments.append(data)

    def _end_script(self) -> None:
        (self.out.scripts if self._script_js else self.out.data_scripts).append(
            "".join(self._chunks))
        self._script = False
        self._chunks = []

    def parse_comment(self, i: int, report: bool = True) -> int:
        """A comment as a browser ends it (html.parser's own misses these and reads on to a
        later ``-->``, or to the end, hiding what follows): ``<!-->`` and ``<!--->`` are
        empty comments and ``--!>`` closes one like ``-->``."""
        rawdata = self.rawdata
        if rawdata.startswith(">", i + 4):
            end, stop = i + 4, i + 5
        elif rawdata.startswith("->", i + 4):
            end, stop = i + 4, i + 6
        else:
            match = _COMMENT_END.search(rawdata, i + 4)
            if match is None:
                return -1
            end, stop = match.start(), match.end()
        if report:
            self.handle_comment(rawdata[i + 4:end])
        return stop

    def close(self) -> None:
        super().close()
        if self._script:
            self._end_script()


def parse_html(text: str) -> _Parsed:
    """Parse at most :data:`MAX_PARSE_CHARS` of ``text`` (malformed HTML never raises)."""
    parser = _Parser()
    try:
        parser.feed(text[:MAX_PARSE_CHARS])
        tail = parser.rawdata
        if tail.startswith("<!--") and parser.cdata_elem is None:
            # a comment never closed: a browser reads the rest of the page as that comment,
            # so a reflection there is in a comment (``-->`` breaks out), not nowhere
            parser.handle_comment(tail[4:])
            parser.rawdata = ""
            parser.close()
        # feed is linear; close() is quadratic in an unterminated tail (html.parser re-reads
        # it from every "<": 200 KB of "<!--" took 30 s). A browser reads such a tail as a
        # comment or as text that never closes: only a short one is handed to close()
        elif len(tail) <= MAX_CLOSE_TAIL:
            parser.close()
        elif parser._script:
            parser._end_script()
    except (AssertionError, ValueError):  # html.parser on pathological input
        pass
    return parser.out


def js_states(source: str, token: str) -> set[str]:
    """The lexical states of JavaScript ``source`` at each occurrence of ``token``: ``code``,
    ``'``, ``"``, a backquote (template literal text), ``//`` or ``/*`` (comments)."""
    starts: set[int] = set()
    at = source.find(token)
    while at >= 0 and len(starts) < 64:
        starts.add(at)
        at = source.find(token, at + 1)
    states: set[str] = set()
    mode = "code"
    braces: list[int] = []
    i = 0
    size = len(source)
    while i < size:
        if i in starts:
            states.add(mode)
        ch = source[i]
        if mode == "code":
            if ch in "'\"`":
                mode = ch
            elif source.startswith("//", i) or source.startswith("<!--", i):
                mode = "//"
            elif source.startswith("/*", i):
                mode = "/*"
                i += 1
            elif ch == "{" and braces:
                braces[-1] += 1
            elif ch == "}" and braces:
                if braces[-1] == 0:
                    braces.pop()
                    mode = "`"
                else:
                    braces[-1] -= 1
        elif mode in ("'", '"'):
            if ch == "\\":
                i += 1
            elif ch == mode or ch == "\n":
                mode = "code"
        elif mode == "`":
            if ch == "\\":
                i += 1
            elif ch == "`":
                mode = "code"
            elif source.startswith("${", i):
                braces.append(0)
                mode = "code"
                i += 1
        elif mode == "//":
            if ch in "\n\r":
                mode = "code"
        elif mode == "/*" and source.startswith("*/", i):
            mode = "code"
            i += 1
        i += 1
    return states


def contexts_of(parsed: _Parsed, token: str) -> list[str]:
    """Where ``token`` sits in a parsed page, as context names (see :func:`_payloads`)."""
    found: list[str] = []

    def add(name: str) -> None:
        if name not in found:
            found.append(name)

    for raw, text in parsed.texts:
        if token in text:
            add(f"rcdata:{raw}" if raw else "html")
    for comment in parsed.comments:
        if token in comment:
            add("comment")
    for attr in parsed.attrs:
        if attr.raw_context or token not in attr.value:
            continue
        if attr.name in _URL_ATTRS and attr.value.strip().startswith(token):
            add("url")
        if attr.name.startswith("on"):
            for state in sorted(js_states(attr.value, token)):
                add(f"jsattr:{state}")
        add(f"attr:{attr.quote}")
    for script in parsed.scripts:
        if token in script:
            for state in sorted(js_states(script, token)):
                add(f"js:{state}")
            add("js:tag")
    for script in parsed.data_scripts:
        if token in script:
            add("js:tag")
    return found


def _payloads(context: str, token: str) -> list[str]:
    """Breakout payloads for ``context`` carrying the fresh canary ``token``."""
    kind, _, detail = context.partition(":")
    if kind == "html":
        return [f"<{token}>"]
    if kind == "rcdata":
        return [f"</{detail}><{token}>"]
    if kind == "comment":
        return [f"--><{token}>"]
    if kind == "attr":
        if detail:
            return [f"x{detail} {token}={detail}1", f"{detail}><{token}>"]
        return [f"x {token}=1", f"x><{token}>"]
    if kind == "url":
        # browsers drop tabs and newlines inside a URL: java<TAB>script: passes naive filters
        return [f"javascript:{token}(1)", f"java\tscript:{token}(1)"]
    if kind in ("js", "jsattr"):
        if detail == "tag":
            return [f"</script><{token}>"] if kind == "js" else []
        if detail == "code":
            return [f"1;{token}//"]
        if detail == "`":
            return [f"${{{token}}}"]
        if detail in ("'", '"'):
            return [f"{detail};{token}//", f"\\{detail};{token}//"]
    return []


def breakout_proof(parsed: _Parsed, context: str, token: str) -> str:
    """The evidence that ``token`` escaped its context in a parsed page ('' when it did not)."""
    kind = context.partition(":")[0]
    if token in parsed.tags:
        return f"new element <{token}> in the page"
    if kind == "attr":
        for attr in parsed.attrs:
            if attr.name == token and not attr.raw_context:
                return f"new attribute {token} on <{attr.tag}>"
    if kind == "url":
        for attr in parsed.attrs:
            value = _CONTROL.sub("", attr.value).lower()
            if attr.name in _URL_ATTRS and not attr.raw_context and \
                    value.startswith("javascript:") and token in value:
                return f"<{attr.tag} {attr.name}=\"{attr.value[:80]}\">"
    if kind == "js":
        for script in parsed.scripts:
            if "code" in js_states(script, token):
                return f"{token} runs as JavaScript code in a <script> block"
    if kind == "jsattr":
        for attr in parsed.attrs:
            if attr.name.startswith("on") and "code" in js_states(attr.value, token):
                return f"{token} runs as JavaScript code in the {attr.name} handler"
    return ""


def _reflected(response: Response, token: str) -> bool:
    return _usable(response) and is_html_response(response) and token in response.text


def _usable(response: Response) -> bool:
    return response.ok and response.status not in (401, 403)


class ReflectedXss:
    """``xss-reflected``: see the module docstring."""

    kind = "xss-reflected"

    def applies(self, point: InputPoint, site: Site) -> bool:
        return point.route not in site.unauthorised

    def run(self, ctx: ProbeContext, point: InputPoint) -> list[WebFinding]:
        if not _usable(ctx.baseline(point)):
            return []
        prefix = ""
        token = ctx.canary()
        first_request = point.request(token)
        first = ctx.client.send(first_request)
        if not _reflected(first, token) and point.original():
            # some values are shown only when they still look valid: keep the sample in front
            prefix, token = point.original(), ctx.canary()
            first_request = point.request(prefix + token)
            first = ctx.client.send(first_request)
        if not _reflected(first, token):
            return []
        if len(first.text) > MAX_PARSE_CHARS or first.truncated:
            ctx.log(f"xss-reflected: {point.route} {point.label}: the page is larger than the "
                    "parser's bound; only its beginning was judged")
        contexts = contexts_of(parse_html(first.text), token)
        sent = 0
        for context in contexts:
            for index in range(len(_payloads(context, "x"))):
                if sent >= MAX_PAYLOADS:
                    return []
                fresh = ctx.canary()
                payload = prefix + _payloads(context, fresh)[index]
                request = point.request(payload)
                response = ctx.client.send(request)
                sent += 1
                if not _usable(response) or not is_html_response(response) or \
                        fresh not in response.text:
                    continue
                proof = breakout_proof(parse_html(response.text), context, fresh)
                if proof:
                    return [_finding(self.kind, point, payload, context, proof,
                                     (Exchange(first_request, first),
                                      Exchange(request, response)))]
        return []


def _finding(kind: str, point: InputPoint, payload: str, context: str, proof: str,
             evidence: tuple[Exchange, ...]) -> WebFinding:
    where = _CONTEXT_NAMES.get(context.partition(":")[0], context)
    return WebFinding(
        kind=kind, title=f"Reflected XSS in {point.label}", severity=Severity.HIGH,
        url=point.url, method=point.method.upper(), param=point.label, evidence=evidence,
        message=(f"The value of {point.label} is written into the HTML ({where}) without the "
                 f"encoding that context needs: the payload {payload!r} produced {proof}."),
        proof=proof, confidence=Confidence.HIGH, cwe=CWE, remediation=REMEDIATION,
        detail=context)


_CONTEXT_NAMES = {
    "html": "HTML text", "rcdata": "a raw-text element", "comment": "an HTML comment",
    "attr": "an attribute value", "url": "a URL attribute", "js": "a <script> block",
    "jsattr": "an event-handler attribute",
}

# --- stored ------------------------------------------------------------------------------------

_UNSAFE_FORM = re.compile(
    r"log_?in|log_?on|sign_?in|sign_?up|signout|log_?out|auth|passw|pwd|delete|remove|destroy|"
    r"drop|purge|reset|admin|pay|purchase|checkout|transfer|unsubscribe|register|token|otp",
    re.IGNORECASE)
_SKIP_FIELD = re.compile(r"csrf|xsrf|token|nonce|captcha|passw|pwd|^_", re.IGNORECASE)


_CONTENT = re.compile(
    r"comment|message|entry|post|review|note|text|body|content|guest|feedback|bio|title|"
    r"descr|about|profile|status|reply|topic|thread|subject|name|summary|caption|tag",
    re.IGNORECASE)
_MODEL_API = re.compile(r"predict|infer|score|generat|complet|classif|detect|explain|embed",
                        re.IGNORECASE)
_NOT_TEXT = re.compile(r"-?\d+(\.\d+)?|true|false|null|", re.IGNORECASE)
"""Sample values of fields that are not free text (numbers, booleans, empty)."""


def _content_rank(group: list[InputPoint]) -> tuple[int, int, int]:
    """Forms before JSON, content-like endpoints (comments, messages, profiles) before others,
    model endpoints last: the probe's few submissions go where stored text is likely."""
    text = urlsplit(group[0].url).path + " " + " ".join(p.name for p in group)
    return (1 if _MODEL_API.search(text) else 0, 0 if _CONTENT.search(text) else 1,
            0 if group[0].kind is InputKind.FORM else 1)


def _first_segment(url: str) -> str:
    return urlsplit(url).path.strip("/").split("/", 1)[0]


def _harmless(group: list[InputPoint]) -> bool:
    point = group[0]
    if _UNSAFE_FORM.search(urlsplit(point.url).path):
        return False
    return not any(_UNSAFE_FORM.search(p.name) for p in group)


class StoredXss:
    """``xss-stored``: see the module docstring."""

    kind = "xss-stored"

    def run_site(self, ctx: ProbeContext) -> list[WebFinding]:
        site = ctx.site
        groups: dict[tuple[str, str], list[InputPoint]] = {}
        for point in site.points:
            if point.method.upper() != "POST" or point.kind not in (InputKind.FORM,
                                                                    InputKind.JSON):
                continue
            if point.route in site.unauthorised or _SKIP_FIELD.search(point.name) \
                    or _NOT_TEXT.fullmatch(point.original().strip()):
                continue
            groups.setdefault((point.url, point.kind.value), []).append(point)
        submitted: dict[str, tuple[InputPoint, Exchange]] = {}
        revisit: list[str] = []
        chosen = sorted((g for g in groups.values() if _harmless(g)), key=_content_rank)
        for group in chosen[:STORED_FORMS]:
            for point in group[:STORED_FIELDS]:
                token = ctx.canary()
                request = point.request(f"'\"><{token}>")
                response = ctx.client.send(request)
                submitted[token] = (point, Exchange(request, response))
                location = response.header("location")
                if location:
                    revisit.append(urljoin(point.url, location))
            if group[0].kind is InputKind.FORM:
                revisit.append(group[0].url)
        if not submitted:
            return []
        pages = [ex.request.url for ex in site.pages if ex.request.method.upper() == "GET"
                 and is_html_response(ex.response)]
        near = {_first_segment(p.url) for p, _ in submitted.values()} - {""}
        urls: list[str] = []
        # redirect targets and the forms' own URLs first, then pages under the same first path
        # segment as a form (/guestbook/sign -> /guestbook), then the rest of the site
        for url in [*revisit, *(u for u in pages if _first_segment(u) in near), *pages]:
            if url not in urls and ctx.client.in_scope(url):
                urls.append(url)
        findings: list[WebFinding] = []
        for url in urls[:STORED_PAGES]:
            if not submitted:
                break
            request = Request("GET", url)
            response = ctx.client.send(request)
            if not _usable(response) or not is_html_response(response):
                continue
            text = response.text
            present = [t for t in submitted if t in text]
            if not present:
                continue
            parsed = parse_html(text)
            for token in present:
                if token not in parsed.tags:
                    continue
                point, submit = submitted.pop(token)
                findings.append(WebFinding(
                    kind=self.kind, title=f"Stored XSS via {point.label}", severity=Severity.HIGH,
                    url=point.url, method=point.method.upper(), param=point.label,
                    evidence=(submit, Exchange(request, response)),
                    message=(f"A value submitted in {point.label} ({point.method.upper()} "
                             f"{point.route}) is later rendered unescaped in {url}: the "
                             f"submitted markup <{token}> became an element of that page."),
                    proof=f"new element <{token}> in {url}", confidence=Confidence.HIGH,
                    cwe=CWE, remediation=REMEDIATION, detail=urlsplit(url).path))
        return findings


PROBES: list[object] = [ReflectedXss(), StoredXss()]
