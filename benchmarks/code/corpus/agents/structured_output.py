import json

from langchain_openai import ChatOpenAI

llm = ChatOpenAI(model="gpt-4o-mini")


def extract(doc: str) -> dict:
    msg = llm.invoke(f"Return JSON with keys title and year for: {doc}")
    return json.loads(msg.content)
