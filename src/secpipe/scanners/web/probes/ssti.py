"""Server-side template injection probe (``ssti``), per input point.

The value becomes a template expression multiplying two random four-digit operands, in the
syntax of each engine family: ``{{A*B}}`` (Jinja2, Twig, Nunjucks, Handlebars-likes),
``${A*B}`` (Mako, Freemarker, Velocity-likes, EL), ``<%= A*B %>`` (ERB, EJS), ``#{A*B}`` (Ruby
interpolation, Pug, Thymeleaf messages), ``{A*B}`` (Smarty), ``{{=A*B}}`` (doT), ``*{A*B}``
(Thymeleaf), ``@(A*B)`` (Razor). It is evaluated when the response contains the product, the
baseline does not, and the expression itself is not echoed back (an echo of the syntax is no
evaluation: a template that received the value as data). A hit is confirmed with fresh
operands (CRITICAL). The sample value is kept in front, so validation of a prefix still passes.

Requests per point: at most 9 (8 syntaxes + 1 confirmation).
"""

from __future__ import annotations

import html
import secrets

from secpipe.scanners.web.model import Exchange, InputPoint, Site, WebFinding
from secpipe.scanners.web.probes import ProbeContext
from secpipe.scanners.web.probes._common import finding, usable

CWE = "CWE-1336"
REMEDIATION = ("Never build a template from input: pass values to a fixed template as "
               "variables (render_template with context, not render_template_string of input); "
               "use a sandboxed environment where users must write templates.")

_SYNTAXES = (
    ("{{", "}}", "Jinja2/Twig"),
    ("${", "}", "Mako/Freemarker/EL"),
    ("<%= ", " %>", "ERB/EJS"),
    ("#{", "}", "Ruby/Pug/Thymeleaf"),
    ("{", "}", "Smarty"),
    ("{{=", "}}", "doT"),
    ("*{", "}", "Thymeleaf"),
    ("@(", ")", "Razor"),
)


class TemplateInjection:
    """``ssti``: see the module docstring."""

    kind = "ssti"

    def applies(self, point: InputPoint, site: Site) -> bool:
        return point.route not in site.unauthorised

    def run(self, ctx: ProbeContext, point: InputPoint) -> list[WebFinding]:
        baseline = ctx.baseline(point)
        if not usable(baseline):
            return []
        orig = point.original()
        for opening, closing, family in _SYNTAXES:
            first = self._try(ctx, point, orig, opening, closing, baseline.text)
            if first is None:
                continue
            second = self._try(ctx, point, orig, opening, closing, baseline.text)
            if second is None:
                continue
            expression, product = second[1], second[2]
            return [finding(
                self.kind, point, title=f"Server-side template injection in {point.label}",
                message=(f"{point.label} is evaluated as a template ({family} syntax): "
                         f"{expression!r} came back as {product}, not as the expression; "
                         "confirmed with fresh operands."),
                proof=f"{expression} -> {product}",
                evidence=[Exchange(point.request(orig), baseline), first[0], second[0]],
                cwe=CWE, remediation=REMEDIATION, detail=family)]
        return []

    @staticmethod
    def _try(ctx: ProbeContext, point: InputPoint, orig: str, opening: str, closing: str,
             base_text: str) -> tuple[Exchange, str, str] | None:
        a = 1000 + secrets.randbelow(9000)
        b = 1000 + secrets.randbelow(9000)
        product = str(a * b)
        expression = f"{opening}{a}*{b}{closing}"
        request = point.request(orig + expression)
        response = ctx.client.send(request)
        if not usable(response):
            return None
        text = response.text
        if product not in text or product in base_text:
            return None
        echoed = f"{a}*{b}"
        if echoed in text or echoed in html.unescape(text):
            return None
        return Exchange(request, response), expression, product


PROBES: list[object] = [TemplateInjection()]
