import duckdb
from litellm import completion

con = duckdb.connect("lake.duckdb")


def answer(question: str):
    resp = completion(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
    city = resp["choices"][0]["message"]["content"].strip()
    return con.execute("SELECT * FROM trips WHERE city = ?", [city]).fetchall()
