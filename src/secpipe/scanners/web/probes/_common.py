"""Helpers the point probes share: whether a response can be judged, the finding they
build, and the scaled-sleep timing check (SQL and command injection)."""

from __future__ import annotations

from collections.abc import Callable

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.web.model import Exchange, InputPoint, Response, WebFinding

SLEEP_SECONDS = (1.0, 2.0)
"""The two requested sleep durations of the time-based checks (the delay must scale)."""


def usable(response: Response) -> bool:
    """A response worth judging: an HTTP answer that is not a refusal for want of credentials."""
    return response.ok and response.status not in (401, 403)


def finding(kind: str, point: InputPoint, *, title: str, message: str, proof: str,
            evidence: list[Exchange], cwe: str, remediation: str, detail: str,
            severity: Severity = Severity.CRITICAL) -> WebFinding:
    """A point probe's finding (shared by the injection probes of this package)."""
    return WebFinding(kind=kind, title=title, severity=severity, url=point.url,
                      method=point.method.upper(), param=point.label, evidence=tuple(evidence),
                      message=message, proof=proof[:400], confidence=Confidence.HIGH, cwe=cwe,
                      remediation=remediation, detail=detail)


def sleep_scales(send: Callable[[float], Exchange], base: float) -> list[Exchange]:
    """Whether a requested sleep really delays the answer: ``send(s)`` sends the payload asking
    for ``s`` seconds. Needs the short sleep slow (twice), a zero sleep fast, and the long sleep
    (twice) slower than the short one by about the difference; ``base`` is the baseline
    latency. Returns the exchanges proving it, or [] (1 request when the first is fast, else up
    to 5)."""
    short, long_ = SLEEP_SECONDS
    first = send(short)
    if not usable_timing(first) or first.response.elapsed < base + 0.85 * short:
        return []
    control = send(0.0)
    if not usable_timing(control) or control.response.elapsed > base + 0.5 * short:
        return []
    ctrl = max(base, control.response.elapsed)
    second = send(long_)
    again = send(short)
    slow = max(first.response.elapsed, again.response.elapsed)
    if not (usable_timing(second) and usable_timing(again)
            and again.response.elapsed >= ctrl + 0.85 * short
            and second.response.elapsed >= ctrl + 0.85 * long_
            and second.response.elapsed - slow >= 0.5 * (long_ - short)):
        return []
    second_again = send(long_)
    if (usable_timing(second_again)
            and second_again.response.elapsed >= ctrl + 0.85 * long_
            and second_again.response.elapsed - slow >= 0.5 * (long_ - short)):
        return [control, first, second, again, second_again]
    return []


def usable_timing(exchange: Exchange) -> bool:
    """A timed answer: a response arrived (a timeout says nothing about the sleep's length)."""
    return exchange.response.ok and not exchange.response.error
