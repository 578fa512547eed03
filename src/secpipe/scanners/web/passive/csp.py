"""Content-Security-Policy: parsed properly, then judged (kind ``csp``, CWE-693).

A policy is a list of directives (``name token token``; a repeated directive is ignored, as
browsers do); a header may carry several policies separated by commas, and several headers add
policies; every enforced policy applies, so a page is only as weak as its *strongest* policy
lets it be. Script sources fall back to ``default-src`` (and ``object-src``/``base-uri`` are
judged the same way: ``base-uri`` has no fallback). Findings on HTML pages that answered 2xx:

* ``missing`` (MEDIUM): no policy at all; ``report-only`` (LOW): only a report-only policy;
  ``meta-only`` (INFO): only a ``<meta http-equiv>`` policy (no ``frame-ancestors``/reporting);
* ``script-src missing`` (MEDIUM): neither ``script-src`` nor ``default-src``;
* ``script-src 'unsafe-inline'`` (MEDIUM) unless neutralised by a nonce, a hash or
  ``'strict-dynamic'``; ``script-src 'unsafe-eval'`` (MEDIUM);
* ``script-src wildcard`` (MEDIUM): ``*``, a bare scheme (``http:``, ``https:``, ``data:``,
  ``blob:``) or a ``*.`` host wildcard alone on the top domain; ``object-src wildcard``;
* ``object-src missing`` (LOW): plugins not restricted;
* ``base-uri missing``: LOW when scripts are nonce/hash based (a ``<base>`` injection then
  redirects them), INFO otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.web.model import WebFinding
from secpipe.scanners.web.passive._common import Page

CWE = "CWE-693"
_FIX = ("Send a Content-Security-Policy header with default-src 'self' (or 'none'), a "
        "nonce- or hash-based script-src without 'unsafe-inline'/'unsafe-eval', "
        "object-src 'none' and base-uri 'none'.")
_SCHEMES = frozenset({"http:", "https:", "data:", "blob:", "filesystem:", "ws:", "wss:"})

Policy = dict[str, list[str]]


def parse_policy(text: str) -> Policy:
    """One serialized policy as ``{directive: [tokens]}`` (names lower case, first wins)."""
    policy: Policy = {}
    for part in text.split(";")[:200]:
        tokens = part.split()
        if not tokens:
            continue
        name = tokens[0].lower()
        if name not in policy:
            policy[name] = tokens[1:50]
    return policy


def parse_policies(values: Iterable[str]) -> list[Policy]:
    """Every policy in the given header values (comma-separated lists of policies)."""
    out = []
    for value in values:
        for text in value.split(",")[:20]:
            policy = parse_policy(text)
            if policy:
                out.append(policy)
    return out


def effective(policy: Policy, directive: str) -> list[str] | None:
    """The source list governing ``directive`` (with ``default-src`` fallback), None when
    nothing restricts it."""
    if directive in policy:
        return policy[directive]
    if directive in ("script-src", "object-src", "style-src", "img-src", "frame-src",
                     "connect-src", "font-src", "media-src", "worker-src", "child-src"):
        return policy.get("default-src")
    return None


def _lower(tokens: list[str]) -> list[str]:
    return [t.lower() for t in tokens]


def _nonce_based(tokens: list[str]) -> bool:
    return any(t.startswith(("'nonce-", "'sha256-", "'sha384-", "'sha512-"))
               or t == "'strict-dynamic'" for t in _lower(tokens))


def _wildcard(tokens: list[str]) -> str:
    """The first overly broad source in ``tokens`` ('' when none)."""
    low = _lower(tokens)
    if "'strict-dynamic'" in low:  # host and scheme sources are ignored by the browser
        return ""
    for source in low:
        if source in _SCHEMES or source == "*":
            return source
        host = source.split("://", 1)[-1]
        if host.startswith("*") and host.count(".") < 2:  # *.com, *.co
            return source
    return ""


def _weaknesses(policy: Policy) -> dict[str, tuple[Severity, str]]:
    """``detail -> (severity, message)`` for one policy."""
    out: dict[str, tuple[Severity, str]] = {}
    script = effective(policy, "script-src")
    if script is None:
        out["script-src missing"] = (
            Severity.MEDIUM, "neither script-src nor default-src is set: scripts from "
            "anywhere, inline and eval run")
    else:
        low = _lower(script)
        nonce = _nonce_based(script)
        if "'unsafe-inline'" in low and not nonce:
            out["script-src 'unsafe-inline'"] = (
                Severity.MEDIUM, "script-src allows 'unsafe-inline' without a nonce or hash: "
                "injected inline scripts run")
        if "'unsafe-eval'" in low:
            out["script-src 'unsafe-eval'"] = (
                Severity.MEDIUM, "script-src allows 'unsafe-eval' (eval, new Function, "
                "string timers)")
        wild = _wildcard(script)
        if wild:
            out["script-src wildcard"] = (
                Severity.MEDIUM, f"script-src allows {wild!r}: scripts from any host of "
                "that kind can run")
    obj = effective(policy, "object-src")
    if obj is None:
        out["object-src missing"] = (
            Severity.LOW, "neither object-src nor default-src is set: plugins (object, "
            "embed) are not restricted")
    elif _wildcard(obj):
        out["object-src wildcard"] = (
            Severity.LOW, f"object-src allows {_wildcard(obj)!r}")
    if "base-uri" not in policy:
        nonce = script is not None and _nonce_based(script)
        out["base-uri missing"] = (
            Severity.LOW if nonce else Severity.INFO,
            "base-uri is not set: an injected <base> tag can re-point relative script URLs")
    return out


def check(page: Page) -> list[WebFinding]:
    if not (page.is_html and page.success and page.has_body):
        return []
    response = page.response
    enforced = parse_policies(response.header_all("content-security-policy"))
    report_only = parse_policies(response.header_all("content-security-policy-report-only"))
    meta = parse_policies(page.html.meta("content-security-policy"))
    policies = enforced + meta  # a meta policy is enforced beside the header's
    if not policies:
        if report_only:
            return [page.finding(
                "csp", "Content-Security-Policy is report-only", Severity.LOW,
                "only Content-Security-Policy-Report-Only is sent: violations are reported "
                "but nothing is blocked", detail="report-only", cwe=CWE, remediation=_FIX,
                proof="Content-Security-Policy-Report-Only: "
                + response.header_all("content-security-policy-report-only")[0])]
        return [page.finding(
            "csp", "Content-Security-Policy missing", Severity.MEDIUM,
            "the HTML page sends no Content-Security-Policy: injected scripts run unhindered",
            detail="missing", cwe=CWE, remediation=_FIX)]
    out: list[WebFinding] = []
    shown = "; ".join(response.header_all("content-security-policy")
                      or page.html.meta("content-security-policy"))
    if not enforced:
        out.append(page.finding(
            "csp", "Content-Security-Policy only in a meta tag", Severity.INFO,
            "the policy is only set by <meta http-equiv>: frame-ancestors, sandbox and "
            "reporting are ignored there", detail="meta-only", cwe=CWE, remediation=_FIX,
            proof=shown, confidence=Confidence.MEDIUM))
    # a weakness counts only when every enforced policy has it
    common: dict[str, tuple[Severity, str]] | None = None
    for policy in policies:
        found = _weaknesses(policy)
        common = found if common is None else {k: v for k, v in common.items() if k in found}
    for detail, (severity, message) in (common or {}).items():
        out.append(page.finding(
            "csp", f"Weak Content-Security-Policy: {detail}", severity, message,
            detail=detail, cwe=CWE, remediation=_FIX, proof=shown))
    return out
