"""bandit's blanket "subprocess call" notices (B603, B607) are dropped where secpipe's data flow
shows the argv cannot carry untrusted input; any argv it cannot vouch for keeps them."""

from __future__ import annotations

from pathlib import Path

from code_helpers import RunCode

SOURCE = '''\
import subprocess
from flask import Flask, request

app = Flask(__name__)
ALLOWED = {"status", "log"}


def fixed():
    return subprocess.run(["git", "status"], check=True)


@app.get("/git/<sub>")
def allowed(sub):
    if sub not in ALLOWED:
        raise ValueError(sub)
    return subprocess.run(["git", sub], check=True)


@app.get("/clone")
def clone():
    return subprocess.run(["git", "clone", request.args["url"]], check=True)


def passthrough(cmd):
    return subprocess.run(cmd, check=True)


def from_param(path):
    return subprocess.run(["ls", path], check=True)


COMMANDS = {"disk": ["df", "-h"], "uptime": ["uptime"]}


@app.get("/ops/<name>")
def ops(name):
    if name not in COMMANDS:
        return "refused"
    return subprocess.run(COMMANDS[name], check=True)


@app.get("/ops2/<name>")
def ops_unchecked(name):
    return subprocess.run(COMMANDS[name], check=True)
'''


def test_b603_only_where_the_argv_is_not_vouched_for(tmp_path: Path,
                                                      run_code: RunCode) -> None:
    (tmp_path / "ops.py").write_text(SOURCE)
    result = run_code(tmp_path)
    lines = {f.location.line for f in result.findings if f.rule_id == "code.bandit.B603"}
    # request data, an opaque argv, a parameter; not the fixed argv (9), the allow-listed one
    # (16), nor an argv picked from the code's own table (39, 44: whatever the key, the result
    # is one of its lists or a KeyError)
    assert lines == {21, 25, 29}
