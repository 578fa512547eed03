"""Generated modules stay linear: a module with tens of thousands of globals and functions
(the rule pack's scopes read the module's names through a layer, never copying them), and a
data literal of tens of thousands of lines (bandit's tests get it in pieces, with the same
findings). Before these, such files took minutes and ended as ``code.budget-exceeded``."""

from __future__ import annotations

import ast
import time

from secpipe.scanners.code.bandit_run import BanditRunner, split_large_literals
from secpipe.scanners.code.flow import Env, Names
from secpipe.scanners.code.mlrules import check_tree


def test_env_layer_reads_base_and_never_changes_it() -> None:
    src = frozenset()
    base = Env()
    base["g"] = src
    base["h"] = src
    child = Env(base)
    assert "g" in child and child["g"] is src
    child["x"] = src
    del child["g"]
    assert "g" not in child and "g" in base and "x" not in base
    assert sorted(child) == ["h", "x"] and len(child) == 2
    saved = child.checkpoint()
    child["y"] = src
    child.pop("h")
    child.restore(saved)
    assert sorted(child) == ["h", "x"]
    assert dict(child.own_items()) == {"x": src}
    names = Names()
    names.add("a")
    layer = Names(names)
    layer.discard("a")
    layer.add("b")
    assert "a" not in layer and "a" in names and "b" in layer and "b" not in names


def test_module_globals_are_still_seen_in_functions() -> None:
    source = ("import pickle, requests\nBLOB = requests.get('https://x.example/m').content\n"
              + "".join(f"C{i} = 'v{i}'\n" for i in range(50))
              + "def load():\n    return pickle.loads(BLOB)\n")
    hits = check_tree(ast.parse(source), source.splitlines())
    assert [(h.rule_id, h.line) for h in hits] == [("code.pickle-deserialization", 54)]


def test_many_globals_and_functions_are_analysed_in_linear_time() -> None:
    n = 80_000
    source = "".join(f'C{i} = "v{i}"\n' for i in range(n)) + "".join(
        f"def f{i}(a):\n    return a + C{i}\n" for i in range(n // 4))
    tree = ast.parse(source)
    start = time.monotonic()
    check_tree(tree, source.splitlines())
    assert time.monotonic() - start < 15  # about 2 s; quadratic copying took over a minute


def _mixed_literals() -> str:
    sql = '    "sql": "' + " ".join(["SELECT", "*", "FROM", "t"]) + '",\n'
    return (
        "CFG = {\n" + "".join(f'    "k{i}": "v{i}",\n' for i in range(300))
            + '    "password": "hunter2",\n    "tmp": "/tmp/x",\n    "host": "0.0.0.0",\n'
            + '    "nested": {\n'
            + "".join(f'        "n{i}": ["/tmp/{i}", {{"password": "p{i}"}}],\n'
                      for i in range(200))
            + "    },\n" + sql + "}\n"
            + 'OTHER = {**EXTRA, "password": "y"}\n'
            + "ROWS = [\n" + "".join(f'    ("{i}", "/tmp/a", -{i}),\n' for i in range(200))
            + "]\n" + "def f():\n    return {\n"
            + "".join(f'        "password{i}": "x{i}",\n' for i in range(100)) + "    }\n")


def test_split_literals_give_bandit_the_same_findings() -> None:
    source = _mixed_literals()
    runner = BanditRunner()

    def found(tree: ast.Module) -> list[tuple[str, int]]:
        issues, errors = runner.run(tree, source.encode(), "cfg.py")
        assert errors == []
        return sorted((i.test_id, i.line) for i in issues)

    whole = found(ast.parse(source))
    split = found(split_large_literals(ast.parse(source)))
    assert split == whole
    # the sample exercises the string tests: passwords, temp paths, bind-all, in every shape
    assert {t for t, _ in whole} >= {"B105", "B108", "B104"} and len(whole) > 500


def test_a_large_data_literal_is_checked_by_bandit_in_linear_time() -> None:
    n = 20_000
    source = "VOCAB = {\n" + "".join(f'    "k{i}": [{i}, "v{i}", "/tmp/{i}"],\n'
                                     for i in range(n)) + "}\n"
    start = time.monotonic()
    issues, _ = BanditRunner().run(split_large_literals(ast.parse(source)), source.encode(),
                                   "vocab.py")
    assert time.monotonic() - start < 15  # about 2 s; unsplit, bandit took about a minute
    assert len([i for i in issues if i.test_id == "B108"]) == n
