"""The ``deploy`` step's HTTP side: readiness polling and the model endpoint's smoke test.

One bounded request function (:func:`request`): loopback only (the deployment's own address),
no redirects followed, a timeout per request, at most ``max_body`` bytes of the answer read (a
bigger answer is reported as oversized, never read whole). :func:`smoke_check` compares an
answer with what the ``smoke:`` block expects and returns the mismatches in words.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_JSON_DEPTH = 64
"""Deepest nesting of a smoke answer's JSON that is read."""
EXCERPT_CHARS = 400
"""Characters of an answer quoted in a finding or an error."""


@dataclass(frozen=True)
class Answer:
    """One HTTP answer (or why there was none)."""

    status: int | None
    """The status code; None when no answer came (``error`` says why)."""
    body: bytes = b""
    """The body, at most the bound."""
    oversized: bool = False
    """The body was larger than the bound (``body`` holds its start)."""
    error: str = ""
    """Why no answer came (connection refused, timed out …)."""
    seconds: float = 0.0
    """Time from the request to the end of the read."""
    content_type: str = ""
    """The ``Content-Type`` header."""

    def excerpt(self, redact: Callable[[str], str]) -> str:
        """The start of the body, one line, redacted."""
        text = self.body[:EXCERPT_CHARS * 4].decode("utf-8", "replace")
        text = " ".join(text.split())
        if len(text) > EXCERPT_CHARS:
            text = text[:EXCERPT_CHARS - 1] + "…"
        return redact(text)


def request(host: str, port: int, path: str, *, method: str = "GET",
            body: bytes | None = None, headers: Mapping[str, str] | None = None,
            timeout: float = 5.0, max_body: int = 1 << 20) -> Answer:
    """Send one request; never raises for network failures (they are ``Answer.error``)."""
    started = time.monotonic()
    conn = http.client.HTTPConnection(host, port, timeout=max(0.1, timeout))
    try:
        sent = dict(headers or {})
        sent.setdefault("User-Agent", "secpipe-deploy")
        sent.setdefault("Connection", "close")
        conn.request(method, path, body=body, headers=sent)
        resp = conn.getresponse()
        data = resp.read(max_body + 1)
        return Answer(resp.status, data[:max_body], len(data) > max_body,
                      seconds=time.monotonic() - started,
                      content_type=resp.getheader("Content-Type", "") or "")
    except (OSError, http.client.HTTPException) as exc:
        reason = "timed out" if isinstance(exc, (TimeoutError, socket.timeout)) else \
            (type(exc).__name__ + (f": {exc}" if str(exc) else ""))
        return Answer(None, error=reason[:200], seconds=time.monotonic() - started)
    finally:
        conn.close()


def parse_json(body: bytes) -> tuple[Any, str]:
    """(value, '') or (None, why it is not JSON); nesting deeper than :data:`MAX_JSON_DEPTH`
    is refused before parsing."""
    text = body.decode("utf-8", "replace")
    depth = deepest = 0
    in_string = escaped = False
    for char in text:  # a bracket count outside strings: refuses a deeply nested answer cheaply
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    if deepest > MAX_JSON_DEPTH:
        return None, f"JSON nested deeper than {MAX_JSON_DEPTH}"
    try:
        return json.loads(text), ""
    except ValueError as exc:
        return None, f"not JSON ({str(exc)[:80]})"


def smoke_check(answer: Answer, *, expect_status: int, expect_keys: Sequence[str],
                expect: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``answer`` (empty: the smoke test passed)."""
    if answer.status is None:
        return [f"no answer: {answer.error}"]
    problems = []
    if answer.status != expect_status:
        problems.append(f"status {answer.status}, expected {expect_status}")
    if answer.oversized:
        problems.append("answer larger than max_body_bytes")
        return problems
    if not expect_keys and not expect:
        return problems
    value, why = parse_json(answer.body)
    if why:
        problems.append(f"answer is {why}")
        return problems
    if not isinstance(value, dict):
        problems.append(f"answer is a JSON {type(value).__name__}, expected an object")
        return problems
    missing = [key for key in expect_keys if key not in value]
    if missing:
        problems.append("missing keys: " + ", ".join(missing[:10]))
    for key, want in expect.items():
        if key not in value:
            if key not in missing:
                problems.append(f"missing key: {key}")
        elif value[key] != want:
            got = json.dumps(value[key])[:80]
            problems.append(f"{key} is {got}, expected {json.dumps(want)[:80]}")
    return problems
