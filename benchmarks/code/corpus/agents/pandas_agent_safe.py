import pandas as pd
from langchain_openai import ChatOpenAI

df = pd.read_csv("sales.csv")
llm = ChatOpenAI(model="gpt-4o-mini")


def ask(q: str) -> str:
    schema = ", ".join(f"{c} ({t})" for c, t in df.dtypes.astype(str).items())
    summary = df.describe().to_string()
    return llm.invoke(f"Columns: {schema}\nStats:\n{summary}\nQuestion: {q}").content
