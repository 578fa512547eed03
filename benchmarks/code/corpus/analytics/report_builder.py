import sqlite3

import pandas as pd
from transformers import pipeline

t2s = pipeline("text2text-generation", model="some-org/t5-text2sql")


def build_report(question: str) -> pd.DataFrame:
    where_clause = t2s(question)[0]["generated_text"]
    query = f"SELECT region, SUM(revenue) AS rev FROM sales WHERE {where_clause} GROUP BY region"
    with sqlite3.connect("sales.db") as con:
        return pd.read_sql_query(query, con)
