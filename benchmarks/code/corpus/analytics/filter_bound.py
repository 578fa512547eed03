from langchain_openai import ChatOpenAI
from sqlalchemy import create_engine, text

engine = create_engine("postgresql+psycopg://app@db/products")
llm = ChatOpenAI(model="gpt-4o-mini")


def search(user_query: str):
    keyword = llm.invoke(f"One keyword for: {user_query}").content.strip()
    stmt = text("SELECT id, name FROM products WHERE name ILIKE :kw")
    with engine.connect() as conn:
        return conn.execute(stmt, {"kw": f"%{keyword}%"}).fetchall()
