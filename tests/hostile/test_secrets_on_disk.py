"""Issue 9 item 6: nothing secpipe keeps on disk holds an unredacted secret, and run files are
private. Secrets are built by code; every file under the state folder is searched for them."""

from __future__ import annotations

import json
import random
import stat
import string
import sys
from pathlib import Path

from secpipe.cli.main import main

ALNUM = string.ascii_letters + string.digits


def _secret() -> str:
    rng = random.Random(6)
    return "sk_live_" + "".join(rng.choice(ALNUM) for _ in range(32))


def _kept(project: Path, secret: str) -> list[str]:
    """Files under .secpipe that hold the secret (or its body) in clear."""
    hits = []
    for path in (project / ".secpipe").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if secret.encode() in data or secret[8:].encode() in data:
                hits.append(str(path.relative_to(project)))
    return hits


def _pipeline(project: Path, script: str, parse: str = "sarif") -> None:
    (project / "tool.py").write_text(script)
    (project / "secpipe.yaml").write_text(f"""
pipelines:
  p:
    stages:
      - name: tools
        steps:
          - uses: exec
            id: tool
            with: {{command: [{sys.executable}, tool.py], parse: {parse}}}
""")


def test_a_failing_tool_s_raw_output_is_not_kept(project: Path) -> None:
    secret = _secret()
    _pipeline(project, f"print('connecting with {secret} failed'); raise SystemExit(3)\n")
    assert main(["run", "p", "-C", str(project), "-q"]) == 2
    assert _kept(project, secret) == []


def test_an_unparsable_output_is_not_kept(project: Path) -> None:
    secret = _secret()
    _pipeline(project, f"print('not sarif {secret}')\n")
    assert main(["run", "p", "-C", str(project), "-q"]) == 2
    assert _kept(project, secret) == []


def test_a_secret_in_sarif_properties_is_masked_in_the_kept_copy(project: Path) -> None:
    secret = _secret()
    log = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t", "rules": []}},
           "results": [{"ruleId": "leak", "level": "error", "message": {"text": "a key"},
                        "properties": {"match": secret, "context": {"line": f"k={secret}"}},
                        "locations": [{"physicalLocation": {
                            "artifactLocation": {"uri": "tool.py"}}}]}]}]}
    _pipeline(project, f"import json; print(json.dumps({json.dumps(log)!s}))\n")
    assert main(["run", "p", "-C", str(project), "-q"]) == 0
    assert _kept(project, secret) == []
    kept = next((project / ".secpipe").rglob("tool/results.sarif"))
    assert json.loads(kept.read_text())["runs"][0]["results"][0]["ruleId"] == "leak"


def test_run_files_are_private(project: Path) -> None:
    (project / ".secpipe").mkdir(mode=0o755)  # left open by an older version
    (project / ".secpipe").chmod(0o755)
    _pipeline(project, "print('{\"version\": \"2.1.0\", \"runs\": []}')\n")
    assert main(["run", "p", "-C", str(project), "-q"]) == 0
    assert stat.S_IMODE((project / ".secpipe").stat().st_mode) == 0o700
    assert stat.S_IMODE((project / ".secpipe" / "runs.db").stat().st_mode) == 0o600
