from markupsafe import Markup
from quart import Quart, request

from llm import summarise

app = Quart(__name__)


@app.post("/card")
async def card():
    form = await request.form
    summary = await summarise(form["text"])
    return Markup("<section><b>Summary</b><p>{}</p></section>").format(summary)
