"""The YAML loader gives the same data, lines and errors whether libyaml's C parser is under it
(the fast path, when PyYAML was built with libyaml) or PyYAML's pure-Python one."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from secpipe.core import safeload

SAMPLES = [
    "a: 1\nb: [x, {c: 2}]\n",
    "---\napiVersion: v1\nkind: Pod\n---\n---\nkind: List\nitems: [{a: 1}]\n",
    "a: &x {b: 1}\nc: *x\nd: {<<: *x, e: 2}\n",
    "a: 1\na: 2\n",                                   # duplicate key
    "a: [" * 80 + "]" * 80 + "\n",                     # too deep
    "a: " + "[" * 3000 + "]" * 3000 + "\n",            # deeper than libyaml's own bound
    "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8)),  # alias bomb
    "expires: 2027-13-01\n",                          # bad scalar
    "a: b: c\n",                                      # syntax error
    "key: \"unterminated\n",
    "s: |\n  line one\n  line two\nt: 'x'\n",
]

PROBE = """
import json, sys
from secpipe.core import safeload
out = []
for text in json.loads(sys.stdin.read()):
    try:
        docs = safeload.parse_yaml_documents(text, "f.yaml")
        out.append(["ok", [[d.data, sorted([list(k), v] for k, v in d.lines.items()),
                            d.first_line, d.last_line] for d in docs]])
    except Exception as exc:
        out.append(["error", type(exc).__name__, str(exc)])
print(json.dumps(out, default=str))
"""
PURE = "import sys; sys.modules['yaml._yaml'] = None\n" + PROBE


def _run(code: str) -> list[object]:
    done = subprocess.run([sys.executable, "-c", code], input=json.dumps(SAMPLES),
                          capture_output=True, text=True, timeout=60, check=True)
    result: list[object] = json.loads(done.stdout)
    return result


def test_pure_python_fallback_is_what_the_probe_uses() -> None:
    done = subprocess.run([sys.executable, "-c", "import sys; sys.modules['yaml._yaml'] = None\n"
                           "from secpipe.core import safeload\n"
                           "print(safeload._Loader.__mro__[1].__name__)"],
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "SafeLoader"


@pytest.mark.skipif("CParser" not in repr(safeload._Loader.__mro__),
                    reason="PyYAML without libyaml: only one backend here")
def test_both_backends_agree_on_data_lines_and_errors() -> None:
    fast, pure = _run(PROBE), _run(PURE)
    assert len(fast) == len(SAMPLES)
    for text, a, b in zip(SAMPLES, fast, pure, strict=True):
        assert isinstance(a, list) and isinstance(b, list)
        if a[0] == "ok" or b[0] == "ok":
            assert a == b, text
        else:  # both refuse it; the bound-checking messages are secpipe's own and identical
            assert a[1] == b[1] == "ConfigError", text
            if "nested deeper" in a[2] or "nested deeper" in b[2]:
                # past libyaml's own bound (1,000 levels) the C parser stops first, without
                # the key path
                assert "nested deeper than 64 levels" in a[2], text
                assert "nested deeper than 64 levels" in b[2], text
            elif "duplicate key" in a[2] or "nodes" in a[2]:
                assert a[2] == b[2], text
