"""False-alarm classes found on real library trees: loading back what the same function just
serialised (``pickle.loads(pickle.dumps(x))``, ``joblib.dump(m, p)`` then ``joblib.load(p)``)
is a round trip, not a load of foreign data; bandit's B101 on a test module's ``assert`` is the
test itself. The look-alikes that must still be reported are checked beside each."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest
from code_helpers import RunCode

from secpipe.core.findings import Severity
from secpipe.scanners.code.engine import is_test_file
from secpipe.scanners.code.mlrules import check_tree

PICKLE = "code.pickle-deserialization"


def rule_lines(source: str, rule: str = PICKLE) -> list[int]:
    text = textwrap.dedent(source)
    return [h.line for h in check_tree(ast.parse(text), text.splitlines()) if h.rule_id == rule]


@pytest.mark.parametrize("source", [
    # direct round trip, also through a name and through io.BytesIO
    "import pickle\ndef f(est):\n    return pickle.loads(pickle.dumps(est))\n",
    "import pickle\ndef f(est):\n    b = pickle.dumps(est)\n    return pickle.loads(b)\n",
    "import io, pickle\ndef f(est):\n    return pickle.load(io.BytesIO(pickle.dumps(est)))\n",
    "import cloudpickle\ndef f(e):\n    return cloudpickle.loads(cloudpickle.dumps(e))\n",
    # a file the same function wrote with a serialiser
    "import joblib\ndef f(m, tmp):\n    p = tmp / 'm.pkl'\n    joblib.dump(m, p)\n"
    "    return joblib.load(p)\n",
    "import joblib\ndef f(m, tmp):\n    joblib.dump(m, str(tmp / 'm.pkl'))\n"
    "    return joblib.load(str(tmp / 'm.pkl'))\n",
    "import pickle\ndef f(m, path):\n    with open(path, 'wb') as fh:\n        pickle.dump(m, fh)\n"
    "    with open(path, 'rb') as fh:\n        return pickle.load(fh)\n",
    "import pickle\ndef f(m, path):\n    pickle.dump(m, open(path, 'wb'))\n"
    "    return pickle.load(open(path, 'rb'))\n",
    "import numpy as np\ndef f(a, p):\n    np.save(p, a)\n"
    "    return np.load(p, allow_pickle=True)\n",
    "import torch\ndef f(m, p):\n    torch.save(m, p)\n    return torch.load(p)\n",
])
def test_round_trips_are_not_reported(source: str) -> None:
    text = textwrap.dedent(source)
    hits = check_tree(ast.parse(text), text.splitlines())
    assert [h for h in hits if h.rule_id in (PICKLE, "code.numpy-allow-pickle",
                                             "code.torch-load-unsafe")] == []


@pytest.mark.parametrize("source", [
    # the name is rebound to foreign data between the dump and the load
    "import pickle, requests\ndef f(est, url):\n    b = pickle.dumps(est)\n"
    "    b = requests.get(url).content\n    return pickle.loads(b)\n",
    # the path is rebound after the dump
    "import joblib\ndef f(m, p, q):\n    joblib.dump(m, p)\n    p = q\n    return joblib.load(p)\n",
    # only one branch serialised: the other loads foreign data
    "import pickle\ndef f(est, data, fresh):\n    if fresh:\n        b = data\n    else:\n"
    "        b = pickle.dumps(est)\n    return pickle.loads(b)\n",
    "import joblib\ndef f(m, p, fresh):\n    if fresh:\n        joblib.dump(m, p)\n"
    "    return joblib.load(p)\n",
    # a loop body that may not run
    "import joblib\ndef f(ms, p):\n    for m in ms:\n        joblib.dump(m, p)\n"
    "    return joblib.load(p)\n",
    # the load comes before the dump (a cache read)
    "import joblib\ndef f(m, p):\n    old = joblib.load(p)\n    joblib.dump(m, p)\n"
    "    return old\n",
    # another path than the one written
    "import joblib\ndef f(m, p, q):\n    joblib.dump(m, p)\n    return joblib.load(q)\n",
    # loads of an unrelated bytes value in a function that also pickles
    "import pickle\ndef f(est, blob):\n    pickle.dumps(est)\n    return pickle.loads(blob)\n",
])
def test_look_alikes_of_round_trips_are_still_reported(source: str) -> None:
    assert len(rule_lines(source)) == 1


def test_round_trip_of_request_data_is_not_a_load_of_request_data() -> None:
    # pickling what came in and unpickling those very bytes never runs the client's pickle
    source = """\
    import pickle
    from flask import request
    def view():
        return pickle.loads(pickle.dumps(request.json))
    """
    assert rule_lines(source) == []


def test_request_bytes_are_still_critical_next_to_a_round_trip() -> None:
    source = """\
    import pickle
    from flask import request
    def view():
        copy = pickle.loads(pickle.dumps(request.json))
        return copy, pickle.loads(request.data)
    """
    text = textwrap.dedent(source)
    hits = [h for h in check_tree(ast.parse(text), text.splitlines()) if h.rule_id == PICKLE]
    assert [(h.line, h.severity) for h in hits] == [(5, Severity.CRITICAL)]


def test_bandit_b301_is_not_reported_on_a_round_trip(project: Path, run_code: RunCode) -> None:
    (project / "rt.py").write_text(
        "import pickle\n\n\ndef copy(obj):\n    return pickle.loads(pickle.dumps(obj))\n\n\n"
        "def load(blob):\n    return pickle.loads(blob)\n")
    findings = run_code(project).findings
    found = sorted((f.rule_id, f.location.line) for f in findings
                   if f.rule_id in (PICKLE, "code.bandit.B301"))
    # the round trip (line 5) is clear for both; the load of a parameter (line 9) is the
    # rule pack's finding, and bandit's same-concern B301 there is dropped as before
    assert found == [(PICKLE, 9)]


@pytest.mark.parametrize(("rel", "expected"), [
    ("tests/test_model.py", True), ("pkg/tests/helpers.py", True), ("test_x.py", True),
    ("src/x_test.py", True), ("conftest.py", True), ("pkg/testing/asserts.py", True),
    ("src/app.py", False), ("src/contest.py", False), ("src/latest_model.py", False),
    ("src/attestation/check.py", False), ("src/testsuite.py", False),
])
def test_test_modules_are_recognised_by_convention(rel: str, expected: bool) -> None:
    assert is_test_file(rel) is expected


def test_assert_is_reported_in_code_but_not_in_test_modules(project: Path,
                                                            run_code: RunCode) -> None:
    body = "def check(x):\n    assert x > 0\n    return x\n"
    (project / "src").mkdir()
    (project / "src" / "model.py").write_text(body)
    (project / "tests").mkdir()
    (project / "tests" / "test_model.py").write_text(body)
    (project / "test_top.py").write_text(body)
    findings = run_code(project).findings
    assert sorted(f.location.path for f in findings if f.rule_id == "code.bandit.B101") == [
        "src/model.py"]


def test_bandit_file_tests_read_a_declared_encoding(project: Path, run_code: RunCode) -> None:
    # found on joblib's tree: a `coding: big5` file handed to bandit's Trojan Source test as
    # UTF-8 bytes made the test fail (code.test-error) on a file Python reads fine
    (project / "big5.py").write_bytes(
        "# -*- coding: big5 -*-\n\n# 漢字\ndef f():\n    return '漢字'\n".encode("big5"))
    (project / "latin.py").write_bytes(
        "# coding: latin-1\nname = 'café'\n".encode("latin-1"))
    (project / "bidi.py").write_text(
        "access = 'user'\nif access != 'none\u202e \u2066# admin\u2069 \u2066':\n    pass\n",
        encoding="utf-8")
    result = run_code(project)
    assert [f.location.path for f in result.findings if f.rule_id == "code.test-error"] == []
    assert {f.location.path for f in result.findings
            if f.rule_id == "code.bandit.B613"} == {"bidi.py"}
    assert result.metrics["files_incomplete"] == 0
