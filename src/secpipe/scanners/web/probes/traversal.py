"""Path traversal probe (``path-traversal``), per input point.

The value is replaced by paths that reach a system file whose content is recognisable: Unix
``/etc/passwd`` (its root line, ``root:<pw>:0:0:``) and Windows ``win.ini`` (``[fonts]`` /
``for 16-bit app support``). Forms: the absolute path, ``../`` runs (plain; ``%2f``-encoded once
more for targets that decode twice; ``....//`` for filters that strip ``../`` once; ``..\\``),
and the sample value's directory kept as a prefix (``static/../../../../etc/passwd``) for
targets that check the prefix. The signature must be absent from the baseline and from the
soft-404 page; a hit is confirmed by sending the same payload again (CRITICAL).

Requests per point: at most 9 (7 payloads, +1 with the prefix kept, +1 confirmation).
"""

from __future__ import annotations

import re

from secpipe.scanners.web.model import Exchange, InputPoint, Response, Site, WebFinding
from secpipe.scanners.web.probes import ProbeContext
from secpipe.scanners.web.probes._common import finding, usable

CWE = "CWE-22"
REMEDIATION = ("Map user input to files through an allowlist or an id; otherwise resolve the "
               "path and check it stays under the intended directory (after decoding).")

_UP = "../" * 10
_PAYLOADS = (
    "/etc/passwd",
    _UP + "etc/passwd",
    _UP.replace("/", "%2f") + "etc%2fpasswd",
    "....//" * 10 + "etc/passwd",
    "..\\" * 10 + "windows\\win.ini",
    "C:\\Windows\\win.ini",
    "file:///etc/passwd",
)
_SIGNATURES = (
    ("/etc/passwd", re.compile(r"root:[^:\r\n]{0,64}:0:0:")),
    ("win.ini", re.compile(r"\[fonts\]|; for 16-bit app support", re.IGNORECASE)),
)


def _signature(response: Response) -> tuple[str, str]:
    """(file, matched text) of the first system-file signature in ``response``."""
    text = response.text[: 1 << 20]
    for name, pattern in _SIGNATURES:
        match = pattern.search(text)
        if match:
            return name, match.group(0)
    return "", ""


class PathTraversal:
    """``path-traversal``: see the module docstring."""

    kind = "path-traversal"

    def applies(self, point: InputPoint, site: Site) -> bool:
        return point.route not in site.unauthorised

    def run(self, ctx: ProbeContext, point: InputPoint) -> list[WebFinding]:
        baseline = ctx.baseline(point)
        if not usable(baseline):
            return []
        present = {_signature(baseline)[0]}
        if ctx.site.not_found is not None:
            present.add(_signature(ctx.site.not_found)[0])
        orig = point.original()
        payloads = list(_PAYLOADS)
        if "/" in orig.strip("/"):
            payloads.append(orig.rsplit("/", 1)[0] + "/" + _UP + "etc/passwd")
        for payload in payloads:
            request = point.request(payload)
            response = ctx.client.send(request)
            name, text = _signature(response)
            if not name or name in present or not usable(response):
                continue
            again = Exchange(request, ctx.client.send(request))
            if _signature(again.response)[0] != name:
                continue
            return [finding(
                self.kind, point, title=f"Path traversal in {point.label}",
                message=(f"{point.label} selects a file on the server: the value {payload!r} "
                         f"returned the contents of {name} ({text!r}), absent from the baseline."),
                proof=text, evidence=[Exchange(point.request(orig), baseline),
                                      Exchange(request, response), again],
                cwe=CWE, remediation=REMEDIATION, detail=name)]
        return []


PROBES: list[object] = [PathTraversal()]
