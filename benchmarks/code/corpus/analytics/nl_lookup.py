import sqlite3

from openai import OpenAI

client = OpenAI()
conn = sqlite3.connect("warehouse.db")


def lookup_customer(question: str):
    r = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": f"Customer name mentioned in: {question}"}],
    )
    name = r.choices[0].message.content.strip()
    cur = conn.cursor()
    cur.execute("SELECT id, email FROM customers WHERE name = ?", (name,))
    return cur.fetchall()
