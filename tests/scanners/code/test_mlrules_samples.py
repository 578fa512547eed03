"""The ML/LLM rule pack on a development sample set: vulnerable snippets and safe look-alikes
per rule (written before tuning), with recall and precision asserted.

Every sample is only parsed (``ast.parse``) and analysed, never run.
"""

from __future__ import annotations

import ast
import textwrap

import pytest

from secpipe.scanners.code.mlrules import RULES, check_tree
from secpipe.scanners.code.rules import CodeHit


def hits_of(source: str) -> list[CodeHit]:
    text = textwrap.dedent(source)
    return check_tree(ast.parse(text), text.splitlines())


def rules_of(source: str) -> set[str]:
    return {h.rule_id for h in hits_of(source)}


#: rule id -> (vulnerable samples, safe look-alikes). A vulnerable sample must raise the rule;
#: a safe one must raise no rule at all.
SAMPLES: dict[str, tuple[list[str], list[str]]] = {
    "code.torch-load-unsafe": ([
        """
        import torch
        state = torch.load("ckpt.pt", weights_only=False)
        """,
        """
        import torch as t
        from huggingface_hub import hf_hub_download
        path = hf_hub_download(repo_id="org/model", filename="pytorch_model.bin")
        model = t.load(path)
        """,
        """
        from torch import load
        import sys
        ckpt = load(sys.argv[1], map_location="cpu")
        """,
    ], [
        """
        import torch
        state = torch.load("ckpt.pt", weights_only=True)
        """,
        """
        import torch
        from huggingface_hub import hf_hub_download
        p = hf_hub_download(repo_id="org/model", filename="model.bin")
        state = torch.load(p, map_location="cpu", weights_only=True)
        """,
        """
        def load(path):
            return open(path).read()
        cfg = load("config.txt")
        """,
    ]),
    "code.pickle-deserialization": ([
        """
        import pandas as pd
        df = pd.read_pickle("https://example.com/data/frame.pkl")
        """,
        """
        from langchain_community.vectorstores import FAISS
        def load_index(path, embeddings):
            return FAISS.load_local(path, embeddings, allow_dangerous_deserialization=True)
        """,
        """
        import mlflow
        model = mlflow.pyfunc.load_model(model_uri)
        """,
        """
        import pickle, requests
        blob = requests.get(URL, timeout=10).content
        model = pickle.loads(blob)
        """,
        """
        from flask import Flask, request
        import joblib, io
        app = Flask(__name__)
        @app.post("/predict")
        def predict():
            clf = joblib.load(io.BytesIO(request.files["model"].read()))
            return str(clf)
        """,
        """
        import pandas as pd, os
        df = pd.read_pickle(os.environ["DATA_PATH"])
        """,
        """
        import dill
        import urllib.request
        with urllib.request.urlopen(URL) as resp:
            fn = dill.loads(resp.read())
        """,
        """
        import boto3, pickle
        s3 = boto3.client("s3")
        s3.download_file("bucket", "models/m.pkl", "/tmp/m.pkl")
        with open("/tmp/m.pkl", "rb") as f:
            model = pickle.load(f)
        """,
        """
        import cloudpickle
        from fastapi import FastAPI, UploadFile
        app = FastAPI()
        @app.post("/upload")
        async def upload(file: UploadFile):
            data = await file.read()
            return cloudpickle.loads(data)
        """,
        """
        import shelve, sys
        db = shelve.open(sys.argv[1])
        """,
    ], [
        """
        from langchain_community.vectorstores import FAISS
        def load_index(path, embeddings):
            return FAISS.load_local(path, embeddings)
        """,
        """
        import pickle
        data = pickle.dumps({"a": 1})
        """,
        """
        import json, requests
        cfg = json.loads(requests.get(URL, timeout=10).text)
        """,
        """
        from safetensors.torch import load_file
        from huggingface_hub import hf_hub_download
        weights = load_file(hf_hub_download("org/m", "model.safetensors"))
        """,
    ]),
    "code.numpy-allow-pickle": ([
        """
        import numpy as np, sys
        arr = np.load(sys.argv[1], allow_pickle=True)
        """,
        """
        import numpy as np
        def read(path):
            return np.load(path, allow_pickle=True)
        """,
    ], [
        """
        import numpy as np, sys
        arr = np.load(sys.argv[1], allow_pickle=False)
        """,
        """
        import numpy as np
        arr = np.load("embeddings.npy")
        """,
    ]),
    "code.trust-remote-code": ([
        """
        from transformers import AutoModelForCausalLM
        m = AutoModelForCausalLM.from_pretrained("org/x", trust_remote_code=True)
        """,
        """
        from datasets import load_dataset
        ds = load_dataset("someone/data", trust_remote_code=True)
        """,
        """
        from transformers import pipeline
        pipe = pipeline("text-generation", model=MODEL, model_kwargs={"trust_remote_code": True})
        """,
    ], [
        """
        from transformers import AutoModelForCausalLM
        m = AutoModelForCausalLM.from_pretrained("org/x", trust_remote_code=False)
        """,
        """
        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained("bert-base-uncased", revision="abc123")
        """,
    ]),
    "code.keras-unsafe-load": ([
        """
        import tensorflow as tf
        model = tf.keras.models.load_model("model.keras", safe_mode=False)
        """,
        """
        import keras
        keras.config.enable_unsafe_deserialization()
        """,
        """
        from keras.models import load_model
        from huggingface_hub import hf_hub_download
        m = load_model(hf_hub_download("org/m", "model.h5"))
        """,
    ], [
        """
        import keras
        model = keras.models.load_model("model.keras")
        """,
        """
        import tensorflow as tf
        model = tf.keras.models.load_model("model.keras", safe_mode=True)
        """,
    ]),
    "code.llm-output-exec": ([
        """
        def solve(model, tokenizer, prompt):
            ids = tokenizer(prompt, return_tensors="pt").input_ids
            text = tokenizer.decode(model.generate(ids)[0])
            return eval(text)
        """,
        """
        import requests
        def run_generated(prompt):
            r = requests.post("http://localhost:11434/api/generate",
                              json={"model": "llama3", "prompt": prompt}, timeout=60)
            exec(r.json()["response"])
        """,
        """
        from openai import OpenAI
        client = OpenAI()
        resp = client.chat.completions.create(model="gpt-4o", messages=msgs)
        code = resp.choices[0].message.content
        exec(code)
        """,
        """
        from langchain_openai import ChatOpenAI
        llm = ChatOpenAI(model="gpt-4o")
        def calc(question):
            answer = llm.invoke(question).content.strip()
            return eval(answer)
        """,
        """
        import anthropic
        client = anthropic.Anthropic()
        msg = client.messages.create(model="claude", max_tokens=100, messages=m)
        expr = msg.content[0].text
        result = eval(compile(expr, "<llm>", "eval"))
        """,
        """
        from transformers import pipeline
        gen = pipeline("text-generation", model="gpt2")
        out = gen(prompt)[0]["generated_text"]
        exec(out)
        """,
        """
        import pandas as pd
        def run(df, chain, q):
            expr = chain.invoke(q)
            return pd.eval(expr)
        """,
    ], [
        """
        from sklearn.linear_model import LogisticRegression
        def fit(model, X, y):
            model.fit(X, y)
            score = model.predict(X)
            return eval("sum")(score)
        """,
        """
        import ast
        from langchain_openai import ChatOpenAI
        llm = ChatOpenAI()
        answer = llm.invoke(q).content
        value = ast.literal_eval(answer)
        """,
        """
        from openai import OpenAI
        client = OpenAI()
        resp = client.chat.completions.create(model="gpt-4o", messages=msgs)
        print(resp.choices[0].message.content)
        result = eval("1 + 2")
        """,
    ]),
    "code.llm-output-shell": ([
        """
        import subprocess
        from langchain_openai import ChatOpenAI
        llm = ChatOpenAI()
        cmd = llm.invoke("write a shell command to " + task).content
        subprocess.run(cmd, shell=True, check=True)
        """,
        """
        import os
        from openai import OpenAI
        client = OpenAI()
        r = client.chat.completions.create(model="m", messages=msgs)
        os.system(r.choices[0].message.content)
        """,
        """
        import subprocess, shlex
        def act(chain, q):
            out = chain.invoke(q)
            subprocess.check_output(shlex.split(out))
        """,
        """
        import subprocess
        def act(llm, q):
            text = llm.predict(q)
            subprocess.Popen(["bash", "-c", text])
        """,
    ], [
        """
        import subprocess
        subprocess.run(["ls", "-l", "/tmp"], check=True)
        """,
        """
        import subprocess, shlex
        from openai import OpenAI
        client = OpenAI()
        r = client.chat.completions.create(model="m", messages=msgs)
        name = r.choices[0].message.content
        subprocess.run(["git", "commit", "-m", name], check=True)
        """,
        """
        import subprocess
        from openai import OpenAI
        client = OpenAI()
        r = client.chat.completions.create(model="m", messages=msgs)
        subprocess.run("echo " + shlex.quote(r.choices[0].message.content), shell=True)
        """,
    ]),
    "code.llm-output-sql": ([
        """
        import requests
        from langchain_community.utilities import SQLDatabase
        db = SQLDatabase.from_uri("sqlite:///shop.db")
        def ask(question):
            r = requests.post("http://localhost:11434/api/generate",
                              json={"model": "sqlcoder", "prompt": question}, timeout=60)
            return db.run(r.json()["response"])
        """,
        """
        import sqlite3
        from langchain_openai import ChatOpenAI
        llm = ChatOpenAI()
        conn = sqlite3.connect("app.db")
        name = llm.invoke(q).content
        conn.execute(f"SELECT * FROM users WHERE name = '{name}'")
        """,
        """
        def text_to_sql(cursor, chain, question):
            sql = chain.invoke({"question": question})
            cursor.execute(sql)
            return cursor.fetchall()
        """,
        """
        from openai import OpenAI
        client = OpenAI()
        def q(cur):
            r = client.chat.completions.create(model="m", messages=msgs)
            table = r.choices[0].message.content
            cur.execute("SELECT * FROM %s" % table)
        """,
    ], [
        """
        import sqlite3
        from langchain_openai import ChatOpenAI
        llm = ChatOpenAI()
        conn = sqlite3.connect("app.db")
        name = llm.invoke(q).content
        conn.execute("SELECT * FROM users WHERE name = ?", (name,))
        """,
        """
        def save(cur, llm, q):
            answer = llm.invoke(q)
            cur.execute("INSERT INTO answers (text) VALUES (%s)", (answer,))
        """,
    ]),
    "code.llm-output-html": ([
        """
        from flask import Flask, request
        from transformers import AutoModelForCausalLM, AutoTokenizer
        app = Flask(__name__)
        tok = AutoTokenizer.from_pretrained("gpt2")
        model = AutoModelForCausalLM.from_pretrained("gpt2")
        @app.route("/complete")
        def complete():
            ids = tok(request.args["q"], return_tensors="pt").input_ids
            out = model.generate(ids, max_new_tokens=50)
            return "<pre>" + tok.decode(out[0], skip_special_tokens=True) + "</pre>"
        """,
        """
        import streamlit as st
        from openai import OpenAI
        client = OpenAI()
        resp = client.chat.completions.create(model="gpt-4o", messages=msgs)
        st.markdown(resp.choices[0].message.content, unsafe_allow_html=True)
        """,
        """
        import streamlit.components.v1 as components
        def show(chain, q):
            html = chain.invoke(q)
            components.html(html, height=600)
        """,
        """
        from markupsafe import Markup
        def render(llm, q):
            return Markup("<div>" + llm.predict(q) + "</div>")
        """,
        """
        from flask import Flask, Response
        app = Flask(__name__)
        @app.get("/answer")
        def answer(llm, q):
            text = llm.invoke(q).content
            return Response(f"<p>{text}</p>", mimetype="text/html")
        """,
        """
        import gradio as gr
        def show(llm, q):
            return gr.HTML(llm.invoke(q).content)
        """,
    ], [
        """
        import streamlit as st
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        tok = AutoTokenizer.from_pretrained("distilbert-base-uncased")
        model = AutoModelForSequenceClassification.from_pretrained("distilbert-base-uncased")
        inputs = tok(st.text_input("text"), return_tensors="pt")
        pred = model(**inputs).logits.argmax().item()
        st.markdown(f"<b>{model.config.id2label[pred]}</b>", unsafe_allow_html=True)
        """,
        """
        from flask import Flask, jsonify
        app = Flask(__name__)
        @app.route("/complete")
        def complete(llm, q):
            return jsonify({"answer": llm.invoke(q).content})
        """,
        """
        import html
        import streamlit as st
        from openai import OpenAI
        client = OpenAI()
        resp = client.chat.completions.create(model="gpt-4o", messages=msgs)
        st.markdown(html.escape(resp.choices[0].message.content), unsafe_allow_html=True)
        """,
        """
        import streamlit as st
        from openai import OpenAI
        client = OpenAI()
        resp = client.chat.completions.create(model="gpt-4o", messages=msgs)
        st.markdown(resp.choices[0].message.content)
        st.markdown("<b>static</b>", unsafe_allow_html=True)
        """,
        """
        import bleach
        from markupsafe import Markup
        def render(llm, q):
            return Markup(bleach.clean(llm.predict(q)))
        """,
    ]),
    "code.jinja-autoescape-off": ([
        """
        from jinja2 import Environment
        env = Environment(autoescape=False)
        """,
        """
        import jinja2
        def page(llm, q):
            answer = llm.invoke(q).content
            return jinja2.Template("<p>{{ a }}</p>").render(a=answer)
        """,
        """
        from jinja2 import Environment, select_autoescape
        env = Environment(autoescape=select_autoescape())
        def page(llm, q):
            t = env.from_string("<p>{{ a|safe }}</p>")
            return t.render(a=llm.invoke(q).content)
        """,
        """
        from flask import render_template_string
        def page(llm, q):
            out = llm.invoke(q).content
            return render_template_string("<div>{{ out | safe }}</div>", out=out)
        """,
    ], [
        """
        from jinja2 import Environment, select_autoescape
        env = Environment(autoescape=select_autoescape())
        def page(llm, q):
            return env.from_string("<p>{{ a }}</p>").render(a=llm.invoke(q).content)
        """,
        """
        from jinja2 import Environment
        env = Environment(autoescape=True)
        def page(llm, q):
            return env.get_template("a.html").render(a=llm.invoke(q).content)
        """,
        """
        from flask import render_template_string
        def page(llm, q):
            out = llm.invoke(q).content
            return render_template_string("<div>{{ out }}</div>", out=out)
        """,
    ]),
    "code.agent-code-execution-tool": ([
        """
        import autogen
        user = autogen.UserProxyAgent(
            "user", code_execution_config={"work_dir": "w", "use_docker": False})
        """,
        """
        from langchain_experimental.tools import PythonREPLTool
        from langchain.agents import initialize_agent
        agent = initialize_agent([PythonREPLTool()], llm, agent="zero-shot-react-description")
        """,
        """
        from langchain.agents import load_tools
        tools = load_tools(["serpapi", "terminal"], llm=llm)
        """,
        """
        from langchain_experimental.agents import create_pandas_dataframe_agent
        agent = create_pandas_dataframe_agent(llm, df, allow_dangerous_code=True)
        """,
        """
        from langchain.chains import LLMMathChain
        chain = LLMMathChain.from_llm(llm)
        """,
        """
        from langchain_community.tools import ShellTool
        shell = ShellTool()
        """,
    ], [
        """
        import autogen
        user = autogen.UserProxyAgent(
            "user", code_execution_config={"work_dir": "w", "use_docker": True})
        """,
        """
        from langchain.agents import load_tools
        tools = load_tools(["serpapi", "wikipedia"], llm=llm)
        """,
        """
        from langchain_experimental.agents import create_pandas_dataframe_agent
        agent = create_pandas_dataframe_agent(llm, df, allow_dangerous_code=False)
        """,
    ]),
    "code.untrusted-code-exec": ([
        """
        import requests
        exec(requests.get(PLUGIN_URL, timeout=10).text)
        """,
        """
        from flask import request
        def calc():
            return str(eval(request.args["expr"]))
        """,
        """
        import yaml
        cfg = yaml.safe_load(open("cfg.yaml"))
        act = eval(cfg["activation"])
        """,
    ], [
        """
        import ast, requests
        data = ast.literal_eval(requests.get(URL, timeout=10).text)
        """,
        """
        x = eval("2 ** 10")
        """,
    ]),
    "code.tls-verify-disabled": ([
        """
        import aiohttp
        async def fetch(url):
            async with aiohttp.ClientSession() as s:
                async with s.get(url, ssl=False) as r:
                    return await r.read()
        """,
        """
        import requests
        r = requests.get(MODEL_URL, verify=False, timeout=30)
        """,
        """
        import ssl, urllib.request
        ctx = ssl._create_unverified_context()
        urllib.request.urlopen(URL, context=ctx)
        """,
        """
        import os
        os.environ["HF_HUB_DISABLE_SSL_VERIFY"] = "1"
        """,
        """
        import os
        os.environ["CURL_CA_BUNDLE"] = ""
        """,
        """
        import requests
        s = requests.Session()
        s.verify = False
        """,
    ], [
        """
        import requests
        r = requests.get(MODEL_URL, verify="/etc/ssl/ca.pem", timeout=30)
        """,
        """
        import requests
        r = requests.get(MODEL_URL, timeout=30)
        """,
        """
        import jwt
        claims = jwt.decode(token, key, algorithms=["RS256"])
        """,
    ]),
    "code.insecure-download-http": ([
        """
        import urllib.request
        urllib.request.urlretrieve("http://models.example.com/m.pt", "m.pt")
        """,
        """
        import requests
        r = requests.get(f"http://cdn.example.org/{name}.bin", timeout=10)
        """,
        """
        import torch
        sd = torch.hub.load_state_dict_from_url("http://example.com/w.pth")
        """,
    ], [
        """
        import urllib.request
        urllib.request.urlretrieve("https://models.example.com/m.pt", "m.pt")
        """,
        """
        import requests
        r = requests.get("http://localhost:8080/health", timeout=2)
        """,
    ]),
    "code.debug-server": ([
        """
        from flask import Flask
        app = Flask(__name__)
        if __name__ == "__main__":
            app.run(host="0.0.0.0", port=5000, debug=True)
        """,
        """
        import dash
        app = dash.Dash(__name__)
        app.run_server(debug=True)
        """,
        """
        from flask import Flask
        app = Flask(__name__)
        app.config["DEBUG"] = True
        """,
    ], [
        """
        import uvicorn
        uvicorn.run("app:app", host="127.0.0.1", reload=True)
        """,
        """
        import os
        from flask import Flask
        app = Flask(__name__)
        app.run(debug=os.environ.get("FLASK_DEBUG") == "1")
        """,
    ]),
    "code.gradio-public-share": ([
        """
        import gradio as gr
        demo = gr.Interface(fn=predict, inputs="text", outputs="text")
        demo.launch(share=True)
        """,
        """
        import gradio as gr
        with gr.Blocks() as demo:
            box = gr.Textbox()
        demo.queue().launch(server_name="0.0.0.0", share=True)
        """,
    ], [
        """
        import gradio as gr
        demo = gr.Interface(fn=predict, inputs="text", outputs="text")
        demo.launch()
        """,
        """
        import gradio as gr
        demo = gr.Interface(fn=predict, inputs="text", outputs="text")
        demo.launch(share=False, server_name="127.0.0.1")
        """,
    ]),
    "code.hardcoded-hub-token": ([
        """
        from huggingface_hub import login
        HF_TOKEN = "hf_PlMnBvCxZaSdFgHjKlQwErTyUiOp13579"
        login(token=HF_TOKEN)
        """,
        """
        from huggingface_hub import HfApi
        api = HfApi(token="hf_QwErTyUiOpAsDfGhJkLzXcVbNm1234567890")
        """,
        """
        import openai
        openai.api_key = "sk-proj-" "9fK2mQ7xLp3vR8tY1wZ5nB4cD6eF0gH2"
        """,
        """
        from huggingface_hub import login
        login(token="hf_ZxCvBnMaSdFgHjKlQwErTyUiOp0987654321")
        """,
        """
        import requests
        headers = {"Authorization": "Bearer " "8f3Kq9ZxT2mLp7Vb4Nc6Rd1Wy5Hs0Ju3"}
        r = requests.get(URL, headers=headers, timeout=5)
        """,
        """
        import os
        os.environ["OPENAI_API_KEY"] = "sk-" "9fK2mQ7xLp3vR8tY1wZ5nB4cD6eF0gH2aa"
        """,
    ], [
        """
        MAX_TOKENS = 4096
        TOKENIZER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
        HF_TOKEN_ENV = "HF_TOKEN"
        """,
        """
        import os
        from huggingface_hub import HfApi
        api = HfApi(token=os.environ["HF_TOKEN"])
        """,
        """
        import openai
        openai.api_key = "sk-..."
        """,
        """
        from huggingface_hub import login
        login(token="YOUR_HF_TOKEN_HERE")
        """,
        """
        headers = {"Authorization": f"Bearer {token}"}
        """,
    ]),
    "code.yaml-unsafe-load": ([
        """
        import yaml
        cfg = yaml.load(open("config.yaml"), Loader=yaml.Loader)
        """,
        """
        import yaml, requests
        cfg = yaml.unsafe_load(requests.get(CFG_URL, timeout=5).text)
        """,
        """
        import yaml
        with open(path) as f:
            cfg = yaml.load(f)
        """,
    ], [
        """
        import yaml
        cfg = yaml.safe_load(open("config.yaml"))
        """,
        """
        import yaml
        cfg = yaml.load(open("config.yaml"), Loader=yaml.SafeLoader)
        """,
    ]),
    "code.archive-path-traversal": ([
        """
        import tarfile, urllib.request
        path, _ = urllib.request.urlretrieve(DATA_URL)
        with tarfile.open(path) as tar:
            tar.extractall("data")
        """,
        """
        import tarfile
        def unpack(archive, dest):
            tf = tarfile.open(archive, "r:gz")
            tf.extractall(dest)
        """,
        """
        import shutil
        from huggingface_hub import hf_hub_download
        shutil.unpack_archive(hf_hub_download("org/d", "data.tar.gz", repo_type="dataset"), "d")
        """,
    ], [
        """
        import tarfile
        def unpack(archive, dest):
            with tarfile.open(archive) as tar:
                tar.extractall(dest, filter="data")
        """,
        """
        import zipfile
        with zipfile.ZipFile("bundle.zip") as z:
            names = z.namelist()
        """,
    ]),
    "code.torch-hub-untrusted": ([
        """
        import torch
        model = torch.hub.load("someone/repo", "model", trust_repo=True)
        """,
        """
        import torch, sys
        model = torch.hub.load(sys.argv[1], "model")
        """,
    ], [
        """
        import torch
        model = torch.hub.load("pytorch/vision", "resnet50", weights="DEFAULT")
        """,
        """
        import torchvision
        model = torchvision.models.resnet50(weights="DEFAULT")
        """,
    ]),
}


def _cases(vulnerable: bool) -> list[tuple[str, int, str]]:
    return [(rule, i, sample) for rule, (bad, good) in sorted(SAMPLES.items())
            for i, sample in enumerate(bad if vulnerable else good)]


def test_every_rule_has_at_least_two_vulnerable_and_two_safe_samples() -> None:
    rules = set(RULES) - {"code.analysis-incomplete"}
    assert rules == set(SAMPLES)
    for bad, good in SAMPLES.values():
        assert len(bad) >= 2 and len(good) >= 2


@pytest.mark.parametrize(("rule", "index", "sample"), _cases(True),
                         ids=lambda v: v if isinstance(v, str) and v.startswith("code.") else "")
def test_vulnerable_sample_is_flagged(rule: str, index: int, sample: str) -> None:
    assert rule in rules_of(sample), f"{rule} sample {index} missed"


@pytest.mark.parametrize(("rule", "index", "sample"), _cases(False),
                         ids=lambda v: v if isinstance(v, str) and v.startswith("code.") else "")
def test_safe_look_alike_raises_nothing(rule: str, index: int, sample: str) -> None:
    assert [(h.rule_id, h.line, h.message) for h in hits_of(sample)] == [], (
        f"{rule} safe sample {index} flagged")


def test_recall_and_precision_on_the_development_set() -> None:
    vulnerable = _cases(True)
    safe = _cases(False)
    found = sum(rule in rules_of(sample) for rule, _, sample in vulnerable)
    false_alarms = sum(bool(hits_of(sample)) for _, _, sample in safe)
    assert len(vulnerable) >= 60 and len(safe) >= 45
    assert found == len(vulnerable)
    assert false_alarms == 0
