from flask import Flask, render_template_string
from transformers import pipeline

app = Flask(__name__)
chat = pipeline("text-generation", model="distilgpt2")

PAGE = """
<ul>
{% for turn in turns %}
  <li>{{ turn|safe }}</li>
{% endfor %}
</ul>
"""


@app.get("/history/<topic>")
def history(topic: str):
    turns = [chat(topic, max_new_tokens=40)[0]["generated_text"] for _ in range(3)]
    return render_template_string(PAGE, turns=turns)
