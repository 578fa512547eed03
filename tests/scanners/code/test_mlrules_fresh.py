"""A second sample set, written after the rules and run once before any change to them: realistic
multi-line snippets in the style of ML repositories. It measures the rule pack on code it was not
tuned on; thresholds are set to the first measured result so a regression fails."""

from __future__ import annotations

import ast
import textwrap

from secpipe.scanners.code.mlrules import check_tree

#: (expected rule or None for a safe sample, source)
FRESH: list[tuple[str | None, str]] = [
    ("code.pickle-deserialization", """
        import pickle
        from pathlib import Path
        import requests

        CACHE = Path.home() / ".cache" / "clf"

        def fetch_classifier(url: str):
            CACHE.mkdir(parents=True, exist_ok=True)
            target = CACHE / "clf.pkl"
            resp = requests.get(url, timeout=30)
            resp.raise_for_status()
            target.write_bytes(resp.content)
            with target.open("rb") as fh:
                return pickle.load(fh)
        """),
    ("code.torch-load-unsafe", """
        import argparse
        import torch

        def main():
            parser = argparse.ArgumentParser()
            parser.add_argument("--ckpt")
            args = parser.parse_args()
            model = build()
            model.load_state_dict(torch.load(args.ckpt, map_location="cpu"))
        """),
    ("code.llm-output-html", """
        import streamlit as st
        from langchain_community.llms import Ollama

        llm = Ollama(model="llama3")
        question = st.text_input("Ask")
        if question:
            answer = llm.invoke(question)
            st.markdown(f"<div class='answer'>{answer}</div>", unsafe_allow_html=True)
        """),
    ("code.llm-output-sql", """
        import sqlite3
        from openai import OpenAI

        client = OpenAI()

        def nl_query(db_path, question):
            prompt = f"Write SQLite for: {question}"
            completion = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
            sql = completion.choices[0].message.content.strip("`")
            with sqlite3.connect(db_path) as conn:
                return conn.execute(sql).fetchall()
        """),
    ("code.llm-output-shell", """
        import subprocess
        import anthropic

        client = anthropic.Anthropic()

        def fix_env(error):
            msg = client.messages.create(model="claude-3-5-sonnet-latest", max_tokens=256,
                                         messages=[{"role": "user", "content": error}])
            command = msg.content[0].text
            result = subprocess.run(command, shell=True, capture_output=True, text=True)
            return result.stdout
        """),
    ("code.agent-code-execution-tool", """
        from langchain.agents import AgentType, initialize_agent
        from langchain_experimental.tools.python.tool import PythonAstREPLTool
        from langchain_openai import ChatOpenAI

        def make_agent(df):
            tool = PythonAstREPLTool(locals={"df": df})
            return initialize_agent([tool], ChatOpenAI(temperature=0),
                                    agent=AgentType.ZERO_SHOT_REACT_DESCRIPTION)
        """),
    ("code.trust-remote-code", """
        from transformers import AutoModel, AutoTokenizer

        def load(name):
            tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=True)
            model = AutoModel.from_pretrained(name, trust_remote_code=True).half().cuda()
            return tokenizer, model.eval()
        """),
    ("code.archive-path-traversal", """
        import io
        import tarfile
        import requests

        def download_dataset(url, root):
            data = requests.get(url, timeout=120).content
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
                archive.extractall(root)
        """),
    ("code.numpy-allow-pickle", """
        import numpy as np
        from huggingface_hub import hf_hub_download

        emb_path = hf_hub_download("org/embeddings", "emb.npy")
        embeddings = np.load(emb_path, allow_pickle=True).item()
        """),
    ("code.llm-output-exec", """
        from langchain_core.prompts import PromptTemplate
        from langchain_openai import OpenAI

        template = PromptTemplate.from_template("Write a python expression for: {q}")
        chain = template | OpenAI()

        def compute(q):
            expression = chain.invoke({"q": q})
            return eval(expression, {"__builtins__": {}})
        """),
    ("code.keras-unsafe-load", """
        import tensorflow as tf

        def restore(path):
            return tf.keras.models.load_model(path, compile=False, safe_mode=False)
        """),
    ("code.yaml-unsafe-load", """
        import yaml

        def read_config(path):
            with open(path) as stream:
                return yaml.load(stream, Loader=yaml.UnsafeLoader)
        """),
    ("code.debug-server", """
        from flask import Flask, jsonify
        server = Flask("inference")

        @server.route("/health")
        def health():
            return jsonify(ok=True)

        server.run("0.0.0.0", 8000, debug=True)
        """),
    ("code.hardcoded-hub-token", """
        from openai import OpenAI
        client = OpenAI(api_key="sk-proj-" "Zq3Wx8Ec5Rv2Tb7Yn4Um1Ik9Ol6Pa0Sd")
        """),
    ("code.tls-verify-disabled", """
        import requests
        import urllib3
        urllib3.disable_warnings()

        def get_weights(url, out):
            with requests.get(url, stream=True, verify=False, timeout=60) as r:
                with open(out, "wb") as f:
                    for chunk in r.iter_content(1 << 20):
                        f.write(chunk)
        """),
    ("code.jinja-autoescape-off", """
        from jinja2 import Environment, FileSystemLoader
        from openai import OpenAI

        env = Environment(loader=FileSystemLoader("templates"))
        client = OpenAI()

        def report(topic):
            r = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user",
                                                                          "content": topic}])
            return env.get_template("report.html").render(body=r.choices[0].message.content)
        """),
    (None, """
        import torch
        from safetensors.torch import load_file

        def restore(model, path):
            model.load_state_dict(load_file(path))
            extra = torch.load(path + ".opt", weights_only=True)
            return model, extra
        """),
    (None, """
        import json
        import requests

        def fetch_labels(url):
            resp = requests.get(url, timeout=10)
            resp.raise_for_status()
            return json.loads(resp.text)
        """),
    (None, """
        import streamlit as st
        from openai import OpenAI

        client = OpenAI()
        if prompt := st.chat_input():
            st.chat_message("user").write(prompt)
            r = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user",
                                                                          "content": prompt}])
            st.chat_message("assistant").write(r.choices[0].message.content)
        """),
    (None, """
        import sqlite3

        def save_answer(db, question, llm):
            answer = llm.invoke(question).content
            with sqlite3.connect(db) as conn:
                conn.execute("INSERT INTO qa (q, a) VALUES (?, ?)", (question, answer))
        """),
    (None, """
        import subprocess

        def git_sha():
            out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                 check=True)
            return out.stdout.strip()
        """),
    (None, """
        import yaml
        from transformers import AutoModelForSequenceClassification

        cfg = yaml.safe_load(open("train.yaml"))
        model = AutoModelForSequenceClassification.from_pretrained(cfg["model"],
                                                                   num_labels=cfg["labels"])
        """),
    (None, """
        import tarfile

        def unpack(path, dest):
            with tarfile.open(path) as tar:
                tar.extractall(dest, filter="data")
        """),
    (None, """
        import gradio as gr

        def greet(name):
            return f"Hello {name}"

        gr.Interface(greet, "text", "text").launch(server_name="127.0.0.1", server_port=7860)
        """),
    (None, """
        import os
        import uvicorn
        from fastapi import FastAPI

        app = FastAPI()
        if __name__ == "__main__":
            uvicorn.run("main:app", host="0.0.0.0", port=int(os.getenv("PORT", "8000")),
                        reload=True)
        """),
    (None, """
        import html
        from jinja2 import Environment, select_autoescape

        env = Environment(autoescape=select_autoescape(["html"]))

        def card(llm, q):
            text = llm.invoke(q).content
            return env.from_string("<div>{{ t }}</div>").render(t=html.escape(text))
        """),
    (None, """
        import numpy as np

        def load_features(path):
            with np.load(path) as data:
                return data["x"], data["y"]
        """),
    (None, """
        from huggingface_hub import HfApi
        import os

        api = HfApi(token=os.getenv("HF_TOKEN"))
        api.upload_folder(folder_path="out", repo_id="org/model")
        """),
    (None, """
        import keras

        model = keras.saving.load_model("best.keras")
        preds = model.predict(batch)
        """),
    (None, """
        import ast
        from openai import OpenAI

        client = OpenAI()

        def parse_list(q):
            r = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user",
                                                                          "content": q}])
            return ast.literal_eval(r.choices[0].message.content)
        """),
    (None, """
        from markupsafe import Markup, escape

        def bold(llm, q):
            return Markup("<b>{}</b>").format(escape(llm.invoke(q).content))
        """),
    (None, """
        import requests

        def ping():
            return requests.get("https://api.example.com/health", timeout=5).ok
        """),
]


def _rules(source: str) -> set[str]:
    text = textwrap.dedent(source)
    return {h.rule_id for h in check_tree(ast.parse(text), text.splitlines())}


def test_fresh_set_recall_and_false_alarms() -> None:
    vulnerable = [(rule, src) for rule, src in FRESH if rule is not None]
    safe = [src for rule, src in FRESH if rule is None]
    assert len(vulnerable) >= 16 and len(safe) >= 16
    missed = [rule for rule, src in vulnerable if rule not in _rules(src)]
    noisy = [i for i, src in enumerate(safe) if _rules(src)]
    assert missed == []
    assert noisy == []
