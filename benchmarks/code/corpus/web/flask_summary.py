from flask import Flask, render_template, request
from markupsafe import Markup
from openai import OpenAI

app = Flask(__name__)
client = OpenAI()


@app.route("/summarise", methods=["POST"])
def summarise():
    doc = request.form["document"]
    out = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"Summarise as HTML: {doc}"}]
    )
    summary_html = Markup(out.choices[0].message.content)
    return render_template("summary.html", summary=summary_html)
