"""Mutated real-shaped manifests: every reader, called directly (without the safety net of
read_manifest), either reads or records problems; it never raises, and what it records is
well-formed."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_readers_conda_npm import ENVIRONMENT, PACKAGE_JSON, _lock_v3
from test_readers_embedded import DOCKERFILE, notebook
from test_readers_python import PEP621, PIPFILE, POETRY, POETRY_LOCK, SETUP_CFG, UV_LOCK
from test_readers_requirements import REAL_WORLD

from secpipe.scanners.deps.model import NPM, PYPI
from secpipe.scanners.deps.readers import CONDA, reader_of
from secpipe.scanners.deps.readers.common import Collector

SAMPLES = {
    "requirements.txt": REAL_WORLD + "-e git+https://x.example/y.git#egg=z\n-r other.txt\n",
    "pyproject.toml": PEP621 + POETRY.replace("[build-system]", "[tool.other]"),
    "setup.cfg": SETUP_CFG,
    "Pipfile": PIPFILE,
    "poetry.lock": POETRY_LOCK,
    "uv.lock": UV_LOCK,
    "environment.yml": ENVIRONMENT,
    "package.json": json.dumps(PACKAGE_JSON, indent=1),
    "package-lock.json": json.dumps(_lock_v3(), indent=1),
    "nb.ipynb": notebook(("code", "!pip install a==1 'b>2' \\\n  c\n%pip install $X {y}\n")),
    "Dockerfile": DOCKERFILE,
    "python_env.yaml": "python: 3.10\nbuild_dependencies:\n- pip==23.3\ndependencies:\n"
                       "- -r other.txt\n- x==1\n",
    "pdm.lock": POETRY_LOCK.replace("[package.source]", "[package.other]"),
}
PIECES = ["[", "]", "{", "}", '"', "'", "\\", "\n", "=", "==", "@", "#", ";", ",", ":", "$",
          "${", "`", "&&", "|", "-r ", "-e ", "--hash=", "[[package]]", "node_modules/",
          "\x00", "é", "\u2028", "\r", "  ", "1.0", "<<EOF\n", "RUN ", "!pip install "]

mutation = st.tuples(st.floats(0, 1), st.integers(0, 40),
                     st.lists(st.sampled_from(PIECES), max_size=4).map("".join))


EXAMPLES = int(os.environ.get("SECPIPE_FUZZ_EXAMPLES", "250"))


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rel=st.sampled_from(sorted(SAMPLES)), mutations=st.lists(mutation, max_size=6))
@example(rel="requirements.txt", mutations=[(0.9375, 10, "[")])  # "[" in a VCS URL's host
@example(rel="package.json", mutations=[(0.177734375, 7, "")])  # a dependency named ""
def test_mutated_manifests_never_raise(rel: str, mutations: list[tuple[float, int, str]]
                                       ) -> None:
    text = SAMPLES[rel]
    for where, cut, insert in mutations:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + cut:]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "other.txt").write_text("flask==3.0.0\n")
        path = root / rel
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        reader = reader_of(rel)
        assert reader is not None
        out = Collector()
        reader(path, rel, 1 << 20, out)
    inv = out.finish()
    assert rel in inv.manifests
    for dep in inv.dependencies:
        assert dep.ecosystem in (PYPI, NPM, CONDA)
        assert dep.name and isinstance(dep.spec, str)
        assert dep.version is None or dep.version.strip() == dep.version != ""
        assert dep.line is None or dep.line >= 1
    for problem in inv.problems:
        assert problem.reason and problem.path
