"""What every passive check shares: the page being checked (its text capped, its HTML parsed
once) and the one way to build a :class:`WebFinding` from it.

The text a check searches is cut at :data:`TEXT_CAP` characters so a check costs the same on a
huge page as on a normal one (the client already caps bodies; this keeps the regexes' work
bounded too). Every regex of the passive package uses bounded quantifiers only.
"""

from __future__ import annotations

import difflib
import html
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urlsplit

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.web.model import Exchange, Response, Site, WebFinding
from secpipe.scanners.web.passive.html import HtmlDoc, parse_html

TEXT_CAP = 512 * 1024
"""Characters of a body the passive checks search."""
_TAG = re.compile(r"<[^<>]{0,2000}>")
_BREAK = re.compile(r"<br\s{0,5}/?>", re.I)
_CODE_TYPES = frozenset({"application/javascript", "text/javascript", "application/x-javascript",
                         "text/css", "application/wasm", "application/octet-stream",
                         "application/pdf", "application/zip"})
PROOF_CAP = 300
"""Characters of evidence text kept in a finding's ``proof``."""


@dataclass
class Page:
    """One exchange under check, with what several checks need computed once."""

    exchange: Exchange
    site: Site
    _memo: dict[str, object] = field(default_factory=dict)

    @property
    def response(self) -> Response:
        return self.exchange.response

    @property
    def url(self) -> str:
        return self.exchange.request.url

    @property
    def https(self) -> bool:
        return urlsplit(self.url).scheme.lower() == "https"

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()

    @property
    def success(self) -> bool:
        return 200 <= self.response.status < 300

    @property
    def has_body(self) -> bool:
        return bool(self.response.body)

    @property
    def is_html(self) -> bool:
        return self.response.is_html

    @property
    def binaryish(self) -> bool:
        """Code, styles or media: not where an app shows errors or addresses to a reader
        (a bundled library's constants would only be false alarms)."""
        ctype = self.response.content_type
        return ctype in _CODE_TYPES or ctype.startswith(("image/", "font/", "audio/", "video/"))

    @cached_property
    def text(self) -> str:
        """The body as text, at most :data:`TEXT_CAP` characters."""
        body = self.response.body[: TEXT_CAP * 2]
        try:
            text = body.decode(self.response.charset, errors="replace")
        except LookupError:
            text = body.decode("utf-8", errors="replace")
        return text[:TEXT_CAP]

    @cached_property
    def plain(self) -> str:
        """The text as a reader sees it, for the content checks: HTML without tags and with
        entities decoded (``File &#34;x.py&#34;`` is ``File "x.py"``), JSON as its strings with
        their escapes undone (a traceback in an error field has its newlines back)."""
        ctype = self.response.content_type
        if self.is_html:
            text = _BREAK.sub("\n", self.text)
            return html.unescape(_TAG.sub("", text))
        if "json" not in ctype:
            return self.text
        try:
            doc = json.loads(self.text)
        except ValueError:
            return self.text.replace("\\n", "\n").replace('\\"', '"')
        return "\n".join(_strings(doc, 0, []))[:TEXT_CAP] or self.text

    @cached_property
    def html(self) -> HtmlDoc:
        """The body parsed as HTML (empty when it is not HTML)."""
        return parse_html(self.text) if self.is_html else HtmlDoc()

    @cached_property
    def own_hosts(self) -> frozenset[str]:
        """Host names of the target (the page's and the scan's origins)."""
        hosts = {self.host}
        for origin in (*self.site.origins, self.site.base_url):
            hosts.add((urlsplit(origin).hostname or "").lower())
        return frozenset(h for h in hosts if h)

    def finding(self, kind: str, title: str, severity: Severity, message: str, *,
                detail: str = "", proof: str = "", cwe: str = "", remediation: str = "",
                confidence: Confidence = Confidence.HIGH) -> WebFinding:
        """A page-level finding about this exchange."""
        return WebFinding(kind=kind, title=title, severity=severity, url=self.url,
                          message=message, method=self.exchange.request.method.upper(),
                          evidence=(self.exchange,), proof=proof[:PROOF_CAP],
                          confidence=confidence, cwe=cwe, remediation=remediation,
                          detail=detail)


def _strings(doc: object, depth: int, out: list[str]) -> list[str]:
    """Every string (and key) of a JSON document, depth and count bounded."""
    if depth > 32 or len(out) > 10_000:
        return out
    if isinstance(doc, str):
        out.append(doc)
    elif isinstance(doc, dict):
        for key, value in doc.items():
            out.append(str(key))
            _strings(value, depth + 1, out)
    elif isinstance(doc, list):
        for item in doc:
            _strings(item, depth + 1, out)
    return out


def excerpt(text: str, start: int, end: int, *, before: int = 60, after: int = 200) -> str:
    """The text around ``[start, end)`` on one line-ish, for a finding's proof."""
    lo = max(0, start - before)
    hi = min(len(text), end + after)
    return text[lo:hi].strip()[:PROOF_CAP]


def is_soft404(response: Response, baseline: Response | None) -> bool:
    """Whether ``response`` is the site's answer to a path that does not exist: same status as
    the random-path baseline (``Site.not_found``) and a near-identical body (length within
    30 %, text 90 % similar on the first 2,000 characters)."""
    if baseline is None or not baseline.ok or response.status != baseline.status:
        return False
    a, b = response.body, baseline.body
    if not a and not b:
        return True
    if min(len(a), len(b)) / max(len(a), len(b), 1) < 0.7:
        return False
    left = a[:2000].decode("utf-8", errors="replace")
    right = b[:2000].decode("utf-8", errors="replace")
    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    return matcher.quick_ratio() >= 0.9 and matcher.ratio() >= 0.9


_SECRET_VALUE = re.compile(
    r"(?i)(\b[\w.-]{0,40}(?:pass(?:word|wd)?|pwd|secret|token|api[_-]?key|access[_-]?key|"
    r"auth\w{0,20}|credential\w{0,5}|session\w{0,10}|private[_-]?key)[\w.-]{0,40}[\"']?"
    r"\s{0,3}[:=]\s{0,3}[\"']?)([^\s\"',;}<>&]{3,4000})")
_JWT = re.compile(r"\beyJ[\w-]{5,4000}\.[\w-]{5,4000}\.[\w-]{0,4000}")
_URL_CREDENTIALS = re.compile(r"(://[^\s:/@]{1,200}:)[^\s@/]{1,400}@")
_AWS_KEY = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")
_ASSIGNMENT = re.compile(r"(?m)^(\s{0,20}(?:export\s+)?[A-Za-z_][\w.-]{0,80}\s{0,3}=\s{0,3})"
                         r"[^\n]{1,4000}$")


def mask_secrets(text: str, *, assignments: bool = False) -> str:
    """``text`` with what looks like a secret value replaced by ``***`` (values of
    password/secret/token/key/session-like keys, JWTs, URL credentials, AWS key ids; with
    ``assignments`` the value of every ``KEY=value`` line, as in a leaked ``.env``). Findings
    keep the key names, which are the proof, and never the values."""
    if assignments:
        text = _ASSIGNMENT.sub(r"\1***", text)
    text = _JWT.sub("eyJ***", text)
    text = _URL_CREDENTIALS.sub(r"\1***@", text)
    text = _AWS_KEY.sub(r"\1***", text)
    return _SECRET_VALUE.sub(r"\1***", text)
