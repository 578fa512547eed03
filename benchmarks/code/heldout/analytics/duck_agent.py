import duckdb
from litellm import completion

con = duckdb.connect("lake.duckdb")


def answer(question: str):
    resp = completion(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
    generated = resp["choices"][0]["message"]["content"]
    return con.sql(generated).fetchall()
