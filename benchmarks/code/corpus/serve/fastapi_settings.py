from fastapi import FastAPI
from pydantic_settings import BaseSettings


class Settings(BaseSettings):
    debug: bool = False
    model_name: str = "distilbert-base-uncased-finetuned-sst-2-english"


settings = Settings()
app = FastAPI(title="sentiment", debug=settings.debug)


@app.get("/ping")
def ping():
    return {"model": settings.model_name}
