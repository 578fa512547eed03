from flask import Flask, render_template, request
from langchain_openai import ChatOpenAI

app = Flask(__name__)
llm = ChatOpenAI(model="gpt-4o-mini")


@app.get("/ask")
def ask():
    answer = llm.invoke(request.args.get("q", "")).content
    return render_template("answer.html", answer=answer)
