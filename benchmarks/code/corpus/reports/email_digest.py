import jinja2
from openai import OpenAI

client = OpenAI()
env = jinja2.Environment(loader=jinja2.FileSystemLoader("templates"))


def render_digest(articles: list[str]) -> str:
    joined = "\n".join(articles)
    r = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"Digest: {joined}"}]
    )
    tpl = env.get_template("digest.html")
    return tpl.render(body=r.choices[0].message.content)
