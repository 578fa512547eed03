from fastapi import FastAPI
from pydantic import BaseModel
from transformers import pipeline

app = FastAPI()


class Req(BaseModel):
    model: str
    prompt: str


@app.post("/generate")
def generate(req: Req):
    gen = pipeline("text-generation", model=req.model, trust_remote_code=True)
    return gen(req.prompt, max_new_tokens=64)[0]
