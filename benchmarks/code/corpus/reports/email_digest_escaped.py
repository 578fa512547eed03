import jinja2
from openai import OpenAI

client = OpenAI()
env = jinja2.Environment(
    loader=jinja2.FileSystemLoader("templates"),
    autoescape=jinja2.select_autoescape(["html", "xml"]),
)


def render_digest(articles: list[str]) -> str:
    r = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Digest: " + " ".join(articles)}]
    )
    return env.get_template("digest.html").render(body=r.choices[0].message.content)
