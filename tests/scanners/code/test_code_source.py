"""Decoding as Python decodes (PEP 263), IPython syntax blanked without moving lines,
``# nosec`` read from comments only."""

from __future__ import annotations

import ast

import pytest

from secpipe.scanners.code import source
from secpipe.scanners.code.bandit_run import is_suppressed, nosec_lines


@pytest.mark.parametrize(("data", "text"), [
    (b"x = '\xc3\xa9'\n", "x = 'é'\n"),
    (b"\xef\xbb\xbfx = 1\n", "x = 1\n"),
    (b"# -*- coding: latin-1 -*-\nx = '\xe9'\n", "# -*- coding: latin-1 -*-\nx = 'é'\n"),
    (b"#!/usr/bin/python\n# vim: set fileencoding=cp1252 :\nx = '\x80'\n",
     "#!/usr/bin/python\n# vim: set fileencoding=cp1252 :\nx = '€'\n"),
    # a cookie on line 2 counts only after a comment or blank line 1 (PEP 263)
    (b"x = 1\n# coding: klingon\n", "x = 1\n# coding: klingon\n"),
])
def test_decode_follows_pep_263(data: bytes, text: str) -> None:
    assert source.decode(data) == text


@pytest.mark.parametrize(("data", "line", "reason"), [
    (b"# coding: klingon\n", 1, "unknown encoding 'klingon'"),
    (b"\n# coding: klingon\n", 2, "unknown encoding 'klingon'"),
    (b"a = 1\nb = 2\nc = '\xff'\n", 3, "not valid utf-8"),
    (b"\xef\xbb\xbf# coding: latin-1\n", 1, "after a UTF-8 byte-order mark"),
    (b"# coding: hex\n", 1, "cannot decode text"),
])
def test_undecodable_says_why_and_where(data: bytes, line: int, reason: str) -> None:
    with pytest.raises(source.Undecodable) as caught:
        source.decode(data)
    assert caught.value.line == line and reason in caught.value.reason


def test_ipython_syntax_becomes_pass_in_place() -> None:
    cell = ("%matplotlib inline\nimport os\nfiles = !ls -la\nfor f in files:\n    !echo {f}\n"
            "os?\nx = 100 % 7\ny = a != b\n%%capture is not first\n")
    blanked = source.blank_ipython(cell)
    assert blanked.split("\n") == ["pass", "import os", "pass", "for f in files:", "    pass",
                                   "pass", "x = 100 % 7", "y = a != b", "pass", ""]
    ast.parse(blanked)


def test_cell_magics_other_than_python_ones_are_listed_not_parsed() -> None:
    nb = ('{"cells": [{"cell_type": "code", "source": ["%%time\\n", "x = 1\\n"]},'
          '{"cell_type": "code", "source": "%%bash\\nrm -rf /\\n"},'
          '{"cell_type": "raw", "source": "not code"}], "metadata": {}}')
    parsed = source.read_notebook(nb)
    assert [(c.index, c.code) for c in parsed.cells] == [(0, "pass\nx = 1\n")]
    assert parsed.other_cells == [(1, "%%bash cell (not Python)")]
    assert parsed.language == "python"


@pytest.mark.parametrize("text", ["[1, 2]", '{"cells": 3}', "{" * 100_000])
def test_not_a_notebook_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="not"):
        source.read_notebook(text)


def test_python_files_by_name_and_shebang() -> None:
    assert source.kind_by_name("a.py") == "py" and source.kind_by_name("B.PYW") == "py"
    assert source.kind_by_name("n.ipynb") == "ipynb"
    assert source.kind_by_name("stub.pyi") is None
    assert source.is_python_shebang(b"#!/usr/bin/env python3\n")
    assert source.is_python_shebang(b"#!/opt/py/bin/python3.11 -u\n")
    assert not source.is_python_shebang(b"#!/bin/sh\n# python\n")


def test_nosec_only_in_comments_with_the_tests_it_names() -> None:
    code = ("a()  # nosec\nb()  # nosec: B602, B607\nc = '# nosec'\n"
            "d()  # NOSEC is not it\ne()  # nosec code.torch-load-unsafe\n")
    found = nosec_lines(code)
    assert found == {1: frozenset(), 2: frozenset({"B602", "B607"}),
                     5: frozenset({"code.torch-load-unsafe"})}
    assert is_suppressed(found, (1,), ("B101",))
    assert is_suppressed(found, (2,), ("B607", "start_process_with_partial_path"))
    assert not is_suppressed(found, (2,), ("B101",))
    assert not is_suppressed(found, (3, 4), ("B101",))
    assert is_suppressed(found, (5,), ("code.torch-load-unsafe",))
