import ast

from openai import OpenAI

client = OpenAI()


def ask_number(question: str) -> float:
    resp = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": f"Answer with a number only: {question}"}],
    )
    text = resp.choices[0].message.content.strip()
    return float(ast.literal_eval(text))
