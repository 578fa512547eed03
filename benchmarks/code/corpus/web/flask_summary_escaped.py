from flask import Flask, render_template, request
from markupsafe import escape
from openai import OpenAI

app = Flask(__name__)
client = OpenAI()


@app.route("/summarise", methods=["POST"])
def summarise():
    out = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": f"Summarise: {request.form['document']}"}],
    )
    summary = escape(out.choices[0].message.content)
    return render_template("summary.html", summary=summary)
