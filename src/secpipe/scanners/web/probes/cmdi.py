"""OS command injection probe (``cmdi``), per input point, harmless commands only.

Output-based: the sample value followed by a shell separator and ``echo CANARY$((A*B))`` with
random operands: only a shell that ran the command prints ``CANARY`` followed by the product,
which the payload itself does not contain (nor the baseline). Separators and forms: ``;``,
``|``, ``&&``, newline, ``$(...)``, backquotes, and a quote breakout ``';...;'`` / ``";...;"``
for values placed inside quotes. A hit is confirmed with fresh operands (CRITICAL).
Requests: 8 output payloads + 1 confirmation.

Time-based (when ``ctx.time_based``, for blind injection): the same forms with ``sleep N``;
the delay must scale with N (two durations, each twice, and a zero control: see
:func:`.sqli.sleep_scales`). 6 requests when nothing is slow, 4 more for one that is.

At most 19 requests per point.
"""

from __future__ import annotations

import secrets
from functools import partial

from secpipe.scanners.web.model import Exchange, InputPoint, Site, WebFinding
from secpipe.scanners.web.probes import ProbeContext
from secpipe.scanners.web.probes._common import finding, sleep_scales, usable

CWE = "CWE-78"
REMEDIATION = ("Do not pass input to a shell: call the program with an argument list (no "
               "shell=True / system()), and allowlist the values it accepts.")

_FORMS = (";{cmd}", "|{cmd}", "&&{cmd}", "\n{cmd}\n", "$({cmd})", "`{cmd}`", "';{cmd};'",
          '";{cmd};"')
"""How a command follows (or is embedded in) the value; ``{cmd}`` is the command."""
_SLEEP_FORMS = (";{cmd}", "|{cmd}", "\n{cmd}\n", "$({cmd})", "`{cmd}`", "';{cmd};'")


def _operands() -> tuple[int, int]:
    return 1000 + secrets.randbelow(9000), 1000 + secrets.randbelow(9000)


class CommandInjection:
    """``cmdi``: see the module docstring."""

    kind = "cmdi"

    def applies(self, point: InputPoint, site: Site) -> bool:
        return point.route not in site.unauthorised

    def run(self, ctx: ProbeContext, point: InputPoint) -> list[WebFinding]:
        baseline = ctx.baseline(point)
        if not usable(baseline):
            return []
        orig = point.original()
        for form in _FORMS:
            hit = self._echo(ctx, point, orig, form)
            if hit is None:
                continue
            confirm = self._echo(ctx, point, orig, form)
            if confirm is None:
                continue
            expected, payload = confirm[1], confirm[2]
            return [finding(
                self.kind, point, title=f"OS command injection in {point.label}",
                message=(f"{point.label} reaches a shell: the payload {payload!r} made the "
                         f"response contain {expected!r}, the product only the shell computes; "
                         "confirmed with fresh operands."),
                proof=expected, evidence=[Exchange(point.request(orig), baseline), hit[0],
                                          confirm[0]],
                cwe=CWE, remediation=REMEDIATION, detail="output")]
        if not ctx.time_based:
            return []
        for form in _SLEEP_FORMS:
            proof = sleep_scales(partial(self._sleep, ctx, point, orig, form), baseline.elapsed)
            if proof:
                times = ", ".join(f"{e.response.elapsed:.2f}s" for e in proof)
                return [finding(
                    self.kind, point, title=f"OS command injection (blind) in {point.label}",
                    message=(f"{point.label} reaches a shell: `sleep` in the form "
                             f"{form.format(cmd='sleep N')!r} delays the answer by N seconds "
                             f"(baseline {baseline.elapsed:.2f}s; sleep 0, 1, 2, 1, 2: {times})."),
                    proof=f"sleep delay scales: {times}",
                    evidence=[Exchange(point.request(orig), baseline), *proof], cwe=CWE,
                    remediation=REMEDIATION, detail="time")]
        return []

    @staticmethod
    def _echo(ctx: ProbeContext, point: InputPoint, orig: str,
              form: str) -> tuple[Exchange, str, str] | None:
        token = ctx.canary()
        a, b = _operands()
        expected = f"{token}{a * b}"
        payload = orig + form.format(cmd=f"echo {token}$(({a}*{b}))")
        request = point.request(payload)
        response = ctx.client.send(request)
        if usable(response) and expected in response.text and expected not in payload:
            return Exchange(request, response), expected, payload
        return None

    @staticmethod
    def _sleep(ctx: ProbeContext, point: InputPoint, orig: str, form: str,
               seconds: float) -> Exchange:
        request = point.request(orig + form.format(cmd=f"sleep {seconds:g}"))
        return Exchange(request, ctx.client.send(request))


PROBES: list[object] = [CommandInjection()]
