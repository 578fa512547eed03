"""Python's ``ast.parse`` and ``ast.literal_eval`` behind one process-wide lock.

CPython 3.11 keeps the recursion-depth bookkeeping of its AST-to-object conversion in state
shared by the threads of an interpreter: two threads building AST objects at once (the code
scanner parsing a file while the model scanner reads a ``.npy`` header in another step of the
same stage) can fail with ``SystemError: AST constructor recursion depth mismatch``
(CPython gh-106905). Every parse secpipe does in-process goes through here, so they never
overlap. Parsing holds the GIL anyway, so the lock costs no parallelism.
"""

from __future__ import annotations

import ast
import threading
from typing import Any

_LOCK = threading.Lock()


def parse_module(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse(source, filename)``, one thread at a time."""
    with _LOCK:
        return ast.parse(source, filename=filename)


def parse_expression(source: str) -> ast.Expression:
    """``ast.parse(source, mode="eval")``, one thread at a time."""
    with _LOCK:
        return ast.parse(source, mode="eval")


def literal_eval(text: str) -> Any:
    """``ast.literal_eval(text)``, one thread at a time."""
    with _LOCK:
        return ast.literal_eval(text)
