from langchain_openai import ChatOpenAI
from sqlalchemy import create_engine, text

engine = create_engine("postgresql+psycopg://app@db/products")
llm = ChatOpenAI(model="gpt-4o-mini")


def search(user_query: str):
    condition = llm.invoke(f"Write a SQL WHERE condition for products matching: {user_query}").content
    stmt = "SELECT id, name FROM products WHERE " + condition
    with engine.connect() as conn:
        return conn.execute(text(stmt)).fetchall()
