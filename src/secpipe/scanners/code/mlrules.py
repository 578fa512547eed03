"""secpipe's ML/LLM rule pack on the Python AST: :data:`RULES` and :func:`check_tree`.

:func:`check_tree` is pure (no I/O, nothing imported or run) and bounded (see
:mod:`secpipe.scanners.code.flow`). Call rules live in :mod:`ml_calls`, statement and literal
rules in :mod:`ml_literals`; both report into one :class:`~ml_hits.Hits` that keeps, for a
rule at a place, the most severe hit.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from secpipe.scanners.code.flow import Flow
from secpipe.scanners.code.ml_calls import (
    check_call,
    check_return,
    module_templates_with_safe,
    module_true_names,
)
from secpipe.scanners.code.ml_catalog import RULES
from secpipe.scanners.code.ml_hits import Hits
from secpipe.scanners.code.ml_literals import check_literals, check_store
from secpipe.scanners.code.rules import CodeHit, CodeRule

__all__ = ["RULES", "CodeHit", "CodeRule", "check_tree"]


def check_tree(tree: ast.Module, lines: Sequence[str],
               cleared: list[tuple[int, int, int]] | None = None) -> list[CodeHit]:
    """Every ML/LLM rule hit in one parsed module, sorted by position. ``lines`` are the
    source lines (used for context only; never echoed when they may hold a secret).
    ``cleared``, when given, receives (first line, last line, CWE) of each call a rule
    examined and found safe (``pickle.loads(pickle.dumps(x))``), so that a pattern-only
    check of the same concern (bandit's B301) is not reported there either."""
    hits = Hits(lines)
    hits.safe_template_names = module_templates_with_safe(tree)
    hits.true_names = module_true_names(tree)
    flow = Flow(tree, lambda site: check_call(site, hits),
                lambda target, value, fl: check_store(target, value, fl, hits))
    flow.on_return = lambda stmt, taint, fl: check_return(stmt, taint, fl.route, hits)
    result = flow.run()
    check_literals(flow.literals, hits)
    for line, reason in result.incomplete:
        hits.add("code.analysis-incomplete", line, 1, None, reason)
    if cleared is not None:
        cleared.extend(hits.cleared)
    return hits.sorted()
