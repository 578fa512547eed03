from fastapi import FastAPI
from transformers import pipeline

app = FastAPI()
gen = pipeline("text-generation", model="openai-community/gpt2")


@app.post("/generate")
def generate(prompt: str):
    return gen(prompt, max_new_tokens=64)[0]
