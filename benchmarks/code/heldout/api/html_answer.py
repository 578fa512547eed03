from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from mistralai import Mistral

app = FastAPI()
client = Mistral(api_key="env")


@app.get("/answer", response_class=HTMLResponse)
async def answer(q: str):
    res = await client.chat.complete_async(
        model="mistral-small-latest", messages=[{"role": "user", "content": q}]
    )
    text = res.choices[0].message.content
    return HTMLResponse(content=f"<article>{text}</article>")
