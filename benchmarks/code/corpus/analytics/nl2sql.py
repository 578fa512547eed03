import sqlite3

from openai import OpenAI

client = OpenAI()
conn = sqlite3.connect("warehouse.db")


def ask(question: str):
    r = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": f"SQLite query for: {question}. SQL only."}],
    )
    sql = r.choices[0].message.content
    cur = conn.cursor()
    cur.execute(sql)
    return cur.fetchall()
