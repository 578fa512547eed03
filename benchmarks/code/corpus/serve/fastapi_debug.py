from fastapi import FastAPI
from transformers import pipeline

app = FastAPI(title="sentiment", debug=True)
clf = pipeline("sentiment-analysis")


@app.get("/score")
def score(text: str):
    return clf(text)[0]
