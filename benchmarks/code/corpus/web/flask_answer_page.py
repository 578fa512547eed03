from flask import Flask, render_template_string, request
from langchain_openai import ChatOpenAI

app = Flask(__name__)
llm = ChatOpenAI(model="gpt-4o-mini")


@app.get("/ask")
def ask():
    q = request.args.get("q", "")
    answer = llm.invoke(q).content
    page = f"<html><body><h1>Answer</h1><p>{answer}</p></body></html>"
    return render_template_string(page)
