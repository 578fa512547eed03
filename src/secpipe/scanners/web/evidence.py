"""A web finding as a secpipe :class:`Finding`: evidence text, redaction, the replay command.

The rule id is ``web.<kind>``; the location is the route (the path, never the full URL: a
different port or query on the next run is the same finding) with ``METHOD param`` as its
member; the fingerprint's key is (kind, method, route, param, detail). The evidence shows each
exchange's request line, headers and body excerpt and the response's status, headers and a body
excerpt around the proof, bounded to :data:`MAX_EVIDENCE` characters, non-printable characters
escaped, auth headers and cookies masked (:data:`.auth.SECRET_HEADERS`), every resolved
secret removed (the run's ``redact`` and the scan's own) and every credential the target leaked
masked (:func:`mask_text`: the secrets scanner's rules plus the passive checks' key/value, JWT,
URL-credential and ``KEY=value`` masks) in every text kept: exchanges, one-line evidence, replay,
URL, message and detail. The proof is masked the same way and kept readable where it appears,
so probe canaries stay visible and the body excerpt is centred on the (masked) proof.
``replay`` is a ``curl`` command that sends the first evidence request again, each word quoted
with :func:`shlex.quote`, secrets as ``***``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from urllib.parse import urlsplit

from secpipe.core.findings import Finding, Location
from secpipe.scanners.web.auth import SECRET_HEADERS
from secpipe.scanners.web.model import Request, Response, WebFinding
from secpipe.scanners.web.passive._common import mask_secrets as mask_values

SCANNER = "scan-web"
MAX_EVIDENCE = 6000
MAX_BODY_EXCERPT = 1200
MAX_REPLAY_BODY = 4000
_SKIP_REPLAY = frozenset({"host", "content-length", "user-agent", "accept",
                          "accept-encoding", "connection"})

#: kind -> OWASP Top 10 (2021) category
OWASP: dict[str, str] = {
    "xss-reflected": "A03", "xss-stored": "A03", "sqli": "A03", "cmdi": "A03", "ssti": "A03",
    "path-traversal": "A01", "open-redirect": "A01", "ssrf": "A10",
    "ml-crash": "A04", "ml-echo": "A01", "ml-internals": "A01", "rate-limit": "A04",
    "missing-header": "A05", "csp": "A05", "cookie-flags": "A05", "stack-trace": "A05",
    "version-banner": "A05", "private-ip": "A01", "debug-endpoint": "A05",
    "directory-listing": "A01", "cors": "A05", "cache-sensitive": "A04",
    "mixed-content": "A02", "html-comment": "A05", "sri": "A08", "csrf": "A01",
    "scan-incomplete": "",
}

#: kind -> what to do about it, when the finding gives none
REMEDIATION: dict[str, str] = {
    "xss-reflected": "Encode output for its context (HTML, attribute, JavaScript, URL); use a "
                     "templating engine with auto-escaping and a strict Content-Security-Policy.",
    "xss-stored": "Encode stored values when rendering them; validate input on the way in.",
    "sqli": "Use parameterised queries (bound parameters), never string concatenation.",
    "cmdi": "Do not pass input to a shell: call programs with an argument list and validate "
            "input against an allowlist.",
    "path-traversal": "Resolve the path and check it stays under the intended folder; map "
                      "names to files with an allowlist.",
    "open-redirect": "Redirect only to relative paths or an allowlist of hosts.",
    "ssrf": "Fetch only allowlisted hosts; block loopback, private and link-local addresses.",
    "ssti": "Never build templates from input; pass input as template variables.",
    "ml-crash": "Validate the request's shape, size and types before the model sees it; "
                "answer 4xx for bad input.",
    "ml-echo": "Do not echo the raw input in prediction responses.",
    "ml-internals": "Return only the label (and a rounded score); keep model internals, paths "
                    "and versions out of responses.",
    "rate-limit": "Rate-limit the prediction endpoint (429 with Retry-After).",
    "scan-incomplete": "Make the target reachable and within scope, or raise the budget "
                       "(max_requests, max_seconds, max_pages) so every part is scanned.",
}

Redact = Callable[[str], str]


def escape(text: str) -> str:
    """``text`` with control and other non-printable characters escaped (newlines kept)."""
    out = []
    for ch in text:
        if ch in "\n\t" or ch.isprintable():
            out.append(ch)
        elif ch == "\r":
            continue
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def _headers(headers: tuple[tuple[str, str], ...], secret_names: frozenset[str]) -> list[str]:
    lines = []
    for name, value in headers:
        low = name.lower()
        shown = "***" if low in SECRET_HEADERS or low in secret_names else value
        lines.append(f"{name}: {shown}")
    return lines


def _locate(text: str, proof: str) -> int:
    """Where ``proof`` (else its longest unmasked piece of 8+ characters) starts in ``text``."""
    if not proof:
        return -1
    at = text.find(proof)
    if at >= 0:
        return at
    pieces = sorted((p for p in re.split(r"\*{3,}", proof) if len(p.strip()) >= 8),
                    key=len, reverse=True)
    for piece in pieces[:4]:
        at = text.find(piece)
        if at >= 0:
            return at
    return -1


def _excerpt(body: str, proof: str, size: int = MAX_BODY_EXCERPT,
             mask: Callable[[str], str] = str) -> str:
    """Up to ``size`` characters of ``body`` around the first ``proof`` (its start otherwise),
    ``mask`` applied to a window a few times ``size`` around it (masking a whole 2 MiB body
    per finding would cost seconds; the margin keeps a secret at the cut whole)."""
    at = _locate(body, proof)
    lo = max(0, at - 3 * size) if at > 0 else 0
    hi = min(len(body), max(at, 0) + 3 * size)
    window = mask(body[lo:hi])
    rest = len(body) - hi
    if len(window) <= size and not lo and not rest:
        return window
    at = _locate(window, proof)
    start = max(0, at - size // 2) if at >= 0 else 0
    end = min(len(window), start + size)
    head = "… " if start or lo else ""
    more = len(window) - end + rest
    tail = f"\n… ({more} more characters)" if more > 0 else ""
    return head + window[start:end] + tail


def mask_text(text: str, *, assignments: bool = False, keep: str = "") -> str:
    """``text`` with leaked credentials masked: the passive checks' masks (values of
    password/secret/token-like keys, JWTs, URL credentials, AWS key ids; with ``assignments``
    every ``KEY=value`` line's value) and the secrets scanner's rules (:func:`mask_secrets`).
    Occurrences of ``keep`` (the already masked proof: a probe's canary) are left as they are."""
    def one(part: str) -> str:
        return mask_values(mask_secrets(part), assignments=assignments)

    if len(keep) < 4:
        return one(text)
    parts = text.split(keep)
    return keep.join(one(part) for part in parts)


MAX_SHORT = 160
"""Characters of a finding's one-line evidence."""


def render_request(request: Request, secret_names: frozenset[str] = frozenset(),
                   redact: Redact = str, keep: str = "") -> str:
    parts = urlsplit(request.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"{request.method} {target} HTTP/1.1", f"Host: {parts.netloc}",
             *_headers(request.headers, secret_names)]
    text = "\n".join(lines)
    if request.body:
        text += "\n\n" + _excerpt(redact(request.body.decode("utf-8", "replace")), "",
                                   mask=lambda t: mask_text(t, keep=keep))
    return mask_text(text, keep=keep)


def render_response(response: Response, proof: str,
                    secret_names: frozenset[str] = frozenset(), redact: Redact = str) -> str:
    """The response's status, headers and a masked body excerpt around ``proof`` (which
    should be masked already: :func:`masked_proof`)."""
    if not response.ok:
        return f"(no response: {response.error or 'unknown'}, after {response.elapsed:.2f} s)"
    lines = [f"HTTP/1.1 {response.status} {response.reason}".rstrip(),
             *_headers(response.headers, secret_names)]
    text = mask_text("\n".join(lines), keep=proof)
    note = " (body truncated by the scanner)" if response.truncated else ""
    body = _excerpt(redact(response.text), proof,
                    mask=lambda t: mask_text(t, assignments=True, keep=proof))
    text += f"\n\n{body}{note}"
    return text + f"\n[{response.elapsed:.2f} s]"


def mask_secrets(text: str) -> str:
    """``text`` with every secret the secrets scanner's rules find masked (``AKIA****``): a
    response can leak credentials the run never resolved (a ``.env`` file, a debug page), and
    evidence is kept in the run store and reports. (The rules, not an entropy guess: masking
    every long token would hide the probe values a reader needs to replay.)"""
    from secpipe.scanners.secrets.checks import redact as redact_secret
    from secpipe.scanners.secrets.engine import detector

    spans = sorted({(c.start, c.end) for c in detector().find(text)}, reverse=True)
    for start, end in spans:
        text = text[:start] + redact_secret(text[start:end]) + text[end:]
    return text


def masked_proof(finding: WebFinding, redact: Redact) -> str:
    """``finding``'s proof, redacted and with leaked credentials masked."""
    return mask_text(redact(finding.proof), assignments=True) if finding.proof else ""


def render_evidence(finding: WebFinding, redact: Redact,
                    secret_names: frozenset[str] = frozenset()) -> str:
    """The bounded, redacted and masked evidence text of ``finding``."""
    proof = masked_proof(finding, redact)
    blocks = []
    if proof:
        blocks.append(f"proof: {proof[:500]}")
    for i, exchange in enumerate(finding.evidence[:4], 1):
        label = f"--- exchange {i} ---" if len(finding.evidence) > 1 else "--- exchange ---"
        request = render_request(exchange.request, secret_names, redact, proof)
        response = render_response(exchange.response, proof, secret_names, redact)
        blocks.append(f"{label}\n{request}\n\n{response}")
    text = escape(redact("\n\n".join(blocks)))
    if len(text) > MAX_EVIDENCE:
        text = text[:MAX_EVIDENCE] + "\n… (evidence cut)"
    return text


def short_evidence(finding: WebFinding, redact: Redact) -> str:
    """One line for consoles and tables: the proof (else the first exchange's request and
    status), redacted and cut; the whole exchanges are the ``exchanges`` property."""
    if finding.proof:
        text = masked_proof(finding, redact)
    elif finding.evidence:
        first = finding.evidence[0]
        status = first.response.status or first.response.error or "no response"
        text = f"{first.request.method} {first.request.path} -> {status}"
    else:
        return ""
    text = " ".join(mask_text(redact(text)).split())
    return escape(text if len(text) <= MAX_SHORT else text[:MAX_SHORT - 1] + "…")


def replay(request: Request, redact: Redact, auth_headers: tuple[str, ...] = ()) -> str:
    """A ``curl`` command that sends ``request`` again (secrets as ``***``)."""
    words = ["curl", "-sS", "-i"]
    if request.method.upper() != "GET" or request.body:
        words += ["-X", request.method.upper()]
    secret = {h.lower() for h in auth_headers}
    for name, value in request.headers:
        low = name.lower()
        if low in _SKIP_REPLAY:
            continue
        shown = "***" if low in SECRET_HEADERS or low in secret else value
        words += ["-H", f"{name}: {shown}"]
        secret.discard(low)
    for name in auth_headers:
        if name.lower() in secret:
            words += ["-H", f"{name}: ***"]
    if request.body:
        body = request.body.decode("utf-8", "replace")
        if len(body) > MAX_REPLAY_BODY:
            body = body[:MAX_REPLAY_BODY]
        words += ["--data-binary", body]
    words.append(request.url)
    return escape(mask_text(redact(" ".join(shlex.quote(w) for w in words))))


def tags_of(finding: WebFinding) -> tuple[str, ...]:
    tags = [finding.cwe] if finding.cwe else []
    owasp = OWASP.get(finding.kind, "")
    if owasp:
        tags.append(f"OWASP-{owasp}:2021")
    return tuple(tags)


def fingerprint_key(finding: WebFinding) -> str:
    return "|".join((finding.kind, finding.method.upper(), finding.route, finding.param,
                     finding.detail))


def to_finding(finding: WebFinding, redact: Redact, *,
               auth_headers: tuple[str, ...] = ()) -> Finding:
    """The secpipe finding of ``finding`` (see the module docstring)."""
    method = finding.method.upper()
    secret_names = frozenset(h.lower() for h in auth_headers)
    request = finding.evidence[0].request if finding.evidence else Request(method, finding.url)
    command = replay(request, redact, auth_headers)
    url = escape(mask_text(redact(finding.url)))
    properties = {"kind": finding.kind, "route": finding.route, "method": method,
                  "param": finding.param, "url": url, "replay": command}
    if finding.detail:
        properties["detail"] = escape(mask_text(redact(finding.detail)))
    if finding.evidence:  # the whole exchanges (bounded, redacted): reports and the run store
        properties["exchanges"] = render_evidence(finding, redact, secret_names)
    return Finding.create(
        rule_id=f"web.{finding.kind}",
        title=finding.title,
        severity=finding.severity,
        scanner=SCANNER,
        location=Location(path=finding.route,
                          member=f"{method} {finding.param}" if finding.param else None),
        message=escape(mask_text(redact(finding.message))),
        key=fingerprint_key(finding),
        confidence=finding.confidence,
        evidence=short_evidence(finding, redact),
        tags=tags_of(finding),
        remediation=finding.remediation or REMEDIATION.get(finding.kind, ""),
        properties=properties,
    )


