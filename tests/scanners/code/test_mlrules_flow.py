"""The data flow under the ML/LLM rules (aliases, propagation, sanitisers, guards, severity by
source), the rule catalogue's completeness, secret masking and the analysis bounds."""

from __future__ import annotations

import ast
import dataclasses
import re
import textwrap

import pytest

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.code import flow
from secpipe.scanners.code.mlrules import RULES, check_tree
from secpipe.scanners.code.rules import CodeHit, CodeRule


def hits_of(source: str) -> list[CodeHit]:
    text = textwrap.dedent(source)
    return check_tree(ast.parse(text), text.splitlines())


def only(source: str, rule: str) -> CodeHit:
    found = [h for h in hits_of(source) if h.rule_id == rule]
    assert len(found) == 1, found
    return found[0]


# ---------------------------------------------------------------- name resolution
@pytest.mark.parametrize("source", [
    "import torch as t\nt.load(p, weights_only=False)\n",
    "from torch import load\nload(p, weights_only=False)\n",
    "from torch import load as tl\ntl(p, weights_only=False)\n",
])
def test_torch_load_is_found_through_import_aliases(source: str) -> None:
    assert only(source, "code.torch-load-unsafe").severity == Severity.HIGH


@pytest.mark.parametrize("source", [
    "from pickle import loads as l\nl(blob)\n",
    "import joblib\njl = joblib.load\njl(path)\n",
    "import pickle as pk\nu = pk.Unpickler(f)\n",
])
def test_pickle_loaders_are_found_through_aliases(source: str) -> None:
    assert only(source, "code.pickle-deserialization").line in (2, 3)


def test_a_users_own_load_is_not_torch_load() -> None:
    source = """
    import pickle
    def load(path, weights_only=False):
        return open(path).read()
    load("x.pt", weights_only=False)
    class Store:
        def loads(self, blob):
            return blob
    Store().loads(b"x")
    """
    assert hits_of(source) == []


def test_a_local_name_shadowing_a_module_is_not_that_module() -> None:
    source = """
    def run(torch):
        return torch.load(path, weights_only=False)
    """
    assert hits_of(source) == []


# ---------------------------------------------------------------- propagation
def test_tuple_unpacking_and_augmented_assignment_carry_taint() -> None:
    source = """
    import pickle, requests, urllib.request
    data, status = requests.get(URL, timeout=5).content, 200
    pickle.loads(data)
    buf = b""
    resp = urllib.request.urlopen(URL)
    buf += resp.read()
    pickle.loads(buf)
    """
    found = [h for h in hits_of(source) if h.rule_id == "code.pickle-deserialization"]
    assert [(h.line, h.severity) for h in found] == [(4, Severity.CRITICAL),
                                                     (8, Severity.CRITICAL)]
    assert "requests.get (line 3)" in found[0].message
    assert "urllib.request.urlopen (line 6)" in found[1].message


def test_for_loop_targets_with_targets_and_attributes_carry_taint() -> None:
    source = """
    import dill, requests
    chunks = []
    for part in requests.get(URL, stream=True, timeout=5).iter_content(1024):
        chunks.append(part)
    blob = b"".join(chunks)
    dill.loads(blob)
    class Loader:
        def __init__(self, url):
            self.raw = requests.get(url, timeout=5).content
        def model(self):
            return dill.loads(self.raw)
    """
    found = {h.line: h for h in hits_of(source) if h.rule_id == "code.pickle-deserialization"}
    assert found[7].severity == Severity.CRITICAL
    assert found[12].severity == Severity.CRITICAL


def test_fstring_format_and_percent_carry_model_output_into_sql() -> None:
    source = """
    def a(cur, llm, q):
        v = llm.invoke(q).content
        cur.execute("SELECT * FROM t WHERE a = '{}'".format(v))
    def b(cur, llm, q):
        v = llm.invoke(q).content
        cur.execute("SELECT * FROM t WHERE a = '%s'" % v)
    def c(cur, llm, q):
        v = llm.invoke(q).content
        cur.execute("SELECT * FROM t WHERE a = '" + v + "'")
    def d(cur, llm, q):
        v = llm.invoke(q).content
        cur.execute("SELECT * FROM t WHERE a = ?", [v])
    """
    lines = [h.line for h in hits_of(source) if h.rule_id == "code.llm-output-sql"]
    assert lines == [4, 7, 10]


def test_propagating_calls_keep_taint_and_int_clears_it() -> None:
    source = """
    import os, json, io, pickle
    from flask import request
    def a():
        pickle.load(io.BytesIO(request.get_data()))
    def b():
        pickle.loads(json.loads(request.data)["blob"].encode())
    def c(llm, q):
        n = int(llm.invoke(q).content)
        os.system(f"sleep {n}")
    def d():
        pickle.load(open(os.path.basename(request.args["f"]), "rb"))
    """
    found = {h.line: h for h in hits_of(source)}
    assert found[5].rule_id == "code.pickle-deserialization"
    assert found[5].severity == Severity.CRITICAL
    assert found[7].severity == Severity.CRITICAL
    assert 10 not in found  # int() is a sanitiser
    assert found[12].severity == Severity.CRITICAL  # basename does not make a pickle safe


def test_allow_list_guards_clear_taint() -> None:
    source = """
    import os
    ALLOWED = {"date", "uptime"}
    def a(llm, q):
        cmd = llm.invoke(q).content
        if cmd in ALLOWED:
            os.system(cmd)
    def b(llm, q):
        cmd = llm.invoke(q).content
        if cmd not in ("date", "uptime"):
            raise ValueError(cmd)
        os.system(cmd)
    def c(llm, q):
        cmd = llm.invoke(q).content
        if cmd.startswith("date"):
            os.system(cmd)
    """
    assert [h.line for h in hits_of(source)] == [16]


def test_comprehensions_and_lcel_pipes_carry_taint() -> None:
    source = """
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_openai import ChatOpenAI
    prompt = ChatPromptTemplate.from_template("{q}")
    pipe = prompt | ChatOpenAI()
    out = pipe.invoke({"q": q})
    lines = [line.strip() for line in out.content.splitlines()]
    for line in lines:
        exec(line)
    """
    hit = only(source, "code.llm-output-exec")
    assert hit.line == 9 and "pipe.invoke (line 6)" in hit.message


def test_module_globals_are_seen_inside_functions() -> None:
    source = """
    import streamlit as st
    from openai import OpenAI
    client = OpenAI()
    def answer(q):
        r = client.chat.completions.create(model="m", messages=[q])
        st.write(r.choices[0].message.content, unsafe_allow_html=True)
    """
    hit = only(source, "code.llm-output-html")
    assert hit.line == 7
    assert "client.chat.completions.create (line 6)" in hit.message


def test_download_destination_paths_are_tainted() -> None:
    source = """
    import joblib, urllib.request
    urllib.request.urlretrieve(URL, "model.joblib")
    def later():
        return joblib.load("model.joblib")
    clean = joblib.load("other.joblib")
    """
    found = {h.line: h for h in hits_of(source)}
    assert found[5].severity == Severity.CRITICAL
    assert 6 not in found  # a file of the repository: scan-models reads its content


def test_files_fetched_by_wget_or_curl_commands_are_tainted() -> None:
    source = """
    import os, subprocess, pickle, joblib
    os.system("wget -q https://example.com/files/clf.pkl")
    subprocess.run(["curl", "-L", "-o", "enc.joblib", URL], check=True)
    a = pickle.load(open("clf.pkl", "rb"))
    b = joblib.load("enc.joblib")
    c = joblib.load("local.joblib")
    """
    found = {h.line: h.severity for h in hits_of(source)
             if h.rule_id == "code.pickle-deserialization"}
    assert found == {5: Severity.CRITICAL, 6: Severity.CRITICAL}  # 7: a repository file


def test_reading_a_literal_file_is_a_constant_not_unknown_code() -> None:
    source = """
    exec(open("version.py").read())
    def f(path):
        exec(open(path).read())
    """
    found = [(h.line, h.severity) for h in hits_of(source)]
    assert found == [(4, Severity.LOW)]


# ---------------------------------------------------------------- severity by source
@pytest.mark.parametrize(("source", "severity", "confidence"), [
    # a literal path outside the repository (a relative one is a repository file: not
    # reported, see test_only_relative_literal_paths_count_as_repository_files)
    ('pickle.load(open("/srv/models/model.pkl", "rb"))', Severity.LOW, Confidence.LOW),
    ("def f(p):\n    pickle.load(open(p, 'rb'))", Severity.MEDIUM, Confidence.LOW),
    ("pickle.load(open(sys.argv[1], 'rb'))", Severity.HIGH, Confidence.MEDIUM),
    ("pickle.load(open(os.getenv('MODEL'), 'rb'))", Severity.HIGH, Confidence.MEDIUM),
    ("pickle.loads(input())", Severity.HIGH, Confidence.MEDIUM),
    ("pickle.loads(requests.post(U, timeout=3).content)", Severity.CRITICAL, Confidence.HIGH),
])
def test_pickle_severity_follows_the_source(source: str, severity: Severity,
                                            confidence: Confidence) -> None:
    hit = only("import pickle, sys, os, requests\n" + source + "\n",
               "code.pickle-deserialization")
    assert (hit.severity, hit.confidence) == (severity, confidence)


def test_torch_load_severity_without_weights_only_depends_on_taint() -> None:
    plain = only("import torch\ntorch.load('w.pt')\n", "code.torch-load-unsafe")
    assert (plain.severity, plain.confidence) == (Severity.LOW, Confidence.LOW)
    argv = only("import torch, sys\ntorch.load(sys.argv[1])\n", "code.torch-load-unsafe")
    assert (argv.severity, argv.confidence) == (Severity.HIGH, Confidence.MEDIUM)
    explicit = only("import torch\ntorch.load('w.pt', weights_only=False)\n",
                    "code.torch-load-unsafe")
    assert (explicit.severity, explicit.confidence) == (Severity.HIGH, Confidence.HIGH)


def test_fastapi_and_django_style_parameters_are_request_sources() -> None:
    source = """
    import pickle
    from fastapi import FastAPI
    app = FastAPI()
    @app.post("/m")
    def m(blob: bytes):
        return pickle.loads(blob)
    def view(request):
        return pickle.loads(request.body)
    """
    found = [h for h in hits_of(source) if h.rule_id == "code.pickle-deserialization"]
    assert [(h.line, h.severity) for h in found] == [(7, Severity.CRITICAL),
                                                     (9, Severity.CRITICAL)]
    assert "request parameter 'blob'" in found[0].message


# ---------------------------------------------------------------- tokens never in clear
def test_hard_coded_tokens_are_masked_in_messages() -> None:
    token = "hf_" + "Qz8Lk2Vn5Tb7Wm1Xc4Rp9Ys3Hd6Jf0Ga"
    bearer = "a9B8c7D6e5F4g3H2i1J0kLmNoPqRsT"
    source = f"""
    from huggingface_hub import HfApi
    api = HfApi(token="{token}")
    headers = {{"Authorization": "Bearer {bearer}"}}
    """
    found = [h for h in hits_of(source) if h.rule_id == "code.hardcoded-hub-token"]
    assert len(found) == 2
    for hit, secret in zip(found, (token, bearer), strict=True):
        assert secret not in hit.message and secret[4:12] not in hit.message
        assert secret[:4] + "*" in hit.message


def test_credentials_in_download_urls_are_not_echoed() -> None:
    source = """
    import os, requests
    r = requests.get("http://bob:Pa55w0rdXYZ@models.example.com/m.bin", timeout=5)
    os.environ["HF_ENDPOINT"] = "http://svc:S3cr3tT0ken@hub.internal/"
    """
    found = [h for h in hits_of(source) if h.rule_id == "code.insecure-download-http"]
    assert len(found) == 2
    assert all("Pa55w0rd" not in h.message and "S3cr3t" not in h.message for h in found)
    assert "http://models.example.com" in found[0].message


# ---------------------------------------------------------------- catalogue
def test_every_rule_is_complete_and_its_examples_are_right() -> None:
    for key, rule in RULES.items():
        assert rule.id == key and key.startswith("code.")
        assert rule.title and rule.rationale and rule.fix and rule.bad and rule.good
        if key == "code.analysis-incomplete":
            continue
        assert re.fullmatch(r"CWE-\d+", rule.cwe), key
        assert rule.tags and all(re.fullmatch(r"OWASP-(LLM|ML)\d\d", t) for t in rule.tags)
        bad = {h.rule_id for h in check_tree(ast.parse(rule.bad), rule.bad.splitlines())}
        good = check_tree(ast.parse(rule.good), rule.good.splitlines())
        assert key in bad, f"{key}: its bad example does not match"
        assert good == [], f"{key}: its good example matches {good}"


def test_hits_are_positioned_sorted_and_deterministic() -> None:
    source = "import torch\nx = 1\nif x:\n    y = torch.load(p, weights_only=False)\n"
    first = hits_of(source)
    assert first == hits_of(source)
    assert (first[0].line, first[0].column) == (4, 9)
    assert first[0].message.startswith("torch.load(")


def test_the_interface_the_engine_imports() -> None:
    rule_fields = [f.name for f in dataclasses.fields(CodeRule)]
    assert rule_fields == ["id", "title", "severity", "confidence", "cwe", "tags", "rationale",
                           "fix", "bad", "good"]
    hit_fields = [f.name for f in dataclasses.fields(CodeHit)]
    assert hit_fields[:5] == ["rule_id", "line", "column", "end_line", "message"]
    hit = CodeHit("code.x", 1, 1, None, "m")
    assert hit.severity is None and hit.confidence is None  # the rule's defaults apply
    with pytest.raises(dataclasses.FrozenInstanceError):
        hit.line = 2  # type: ignore[misc]


# ---------------------------------------------------------------- bounds
def test_hitting_the_expression_budget_is_a_finding_not_a_pass(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flow, "MAX_STEPS_PER_SCOPE", 50)
    body = "".join(f"    v{i} = a{i} + b{i}\n" for i in range(100))
    source = f"def big(a0):\n{body}    return pickle.loads(v99)\n"
    found = [h for h in hits_of(source) if h.rule_id == "code.analysis-incomplete"]
    assert len(found) == 1 and "function big" in found[0].message


def test_long_operator_chains_are_followed_flat() -> None:
    expr = " + ".join(["x"] * 900)
    source = f"import pickle, sys\nx = sys.argv[1]\ny = {expr}\npickle.loads(y)\n"
    hit = only(source, "code.pickle-deserialization")
    assert hit.severity == Severity.HIGH
    assert "code.analysis-incomplete" not in {h.rule_id for h in hits_of(source)}


def test_deep_nesting_is_reported_not_crashed() -> None:
    chain = "x" + ".a" * 600
    source = f"import pickle\ndef f(x):\n    return pickle.loads({chain})\n"
    found = [h for h in hits_of(source) if h.rule_id == "code.analysis-incomplete"]
    assert len(found) == 1 and "function f" in found[0].message


def test_a_flask_view_returning_an_autoescaped_template_is_not_raw_html() -> None:
    """render_template_string escapes the values it is given (Flask turns autoescape on); only
    a template built from model output, or a |safe filter on it, is the concern."""
    source = """
    from flask import Flask, render_template_string
    from transformers import pipeline
    app = Flask(__name__)
    chat = pipeline("text-generation", model="distilgpt2")
    PAGE = "<ul>{% for t in turns %}<li>{{ t }}</li>{% endfor %}</ul>"
    @app.get("/h/<topic>")
    def history(topic):
        turns = [chat(topic)[0]["generated_text"]]
        return render_template_string(PAGE, turns=turns)
    @app.get("/raw/<topic>")
    def raw(topic):
        return "<p>" + chat(topic)[0]["generated_text"] + "</p>"
    """
    found = {(h.rule_id, h.line) for h in hits_of(source)}
    assert found == {("code.llm-output-html", 13)}  # the raw string, not the template (10)


def test_a_module_template_with_safe_rendered_by_name_keeps_its_filter() -> None:
    source = """
    from flask import Flask, render_template_string
    from transformers import pipeline
    app = Flask(__name__)
    chat = pipeline("text-generation", model="distilgpt2")
    PAGE = "<ul>{% for t in turns %}<li>{{ t|safe }}</li>{% endfor %}</ul>"
    @app.get("/h/<topic>")
    def history(topic):
        turns = [chat(topic)[0]["generated_text"]]
        return render_template_string(PAGE, turns=turns)
    """
    found = {(h.rule_id, h.line) for h in hits_of(source)}
    assert ("code.jinja-autoescape-off", 10) in found


def test_debug_servers_through_constants_and_asgi_apps() -> None:
    source = """
    import asyncio, os
    from fastapi import FastAPI
    from flask import Flask
    from openai import OpenAI
    DEBUG = True
    QUIET = os.environ.get("DEBUG") == "1"
    api = FastAPI(debug=True)
    calm = FastAPI(debug=False)
    app = Flask(__name__)
    client = OpenAI()
    async def fix(q):
        r = client.chat.completions.create(model="m", messages=[q])
        await asyncio.create_subprocess_shell(r.choices[0].message.content)
    if __name__ == "__main__":
        app.run(debug=DEBUG)
        app.run(debug=QUIET)
    """
    found = {(h.rule_id, h.line) for h in hits_of(source)}
    assert ("code.debug-server", 8) in found and ("code.debug-server", 9) not in found
    assert ("code.debug-server", 16) in found and ("code.debug-server", 17) not in found
    assert ("code.llm-output-shell", 14) in found


def test_only_relative_literal_paths_count_as_repository_files() -> None:
    source = """
    import pickle
    from pathlib import Path
    HERE = Path(__file__).parent
    a = pickle.load(open(HERE / "assets" / "vocab.pkl", "rb"))
    b = pickle.load(open("/tmp/shared/model.pkl", "rb"))
    c = pickle.load(open("~/.cache/m.pkl", "rb"))
    """
    found = {h.line: h.severity for h in hits_of(source)
             if h.rule_id == "code.pickle-deserialization"}
    assert found == {6: Severity.LOW, 7: Severity.LOW}  # line 5 ships with the repository
