"""Parses from many threads at once never fail (CPython 3.11's AST conversion shares state)."""

from __future__ import annotations

import ast
from concurrent.futures import ThreadPoolExecutor

from secpipe.core import pyast

SOURCE = "def f(x):\n    return [[(x, {'a': [1, 2, (3, 4)]}) for _ in range(3)]]\n" * 200


def test_parses_from_many_threads_agree() -> None:
    def work(i: int) -> str:
        if i % 2:
            return ast.dump(pyast.parse_module(SOURCE, f"f{i}.py"))
        return repr(pyast.literal_eval("{'descr': '<f8', 'shape': (3, 4), 'x': [1, 2]}"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(64)))
    assert len(set(results[1::2])) == 1 and len(set(results[0::2])) == 1
    assert isinstance(pyast.parse_expression("a + b").body, ast.BinOp)
