import os

from langchain_openai import ChatOpenAI

llm = ChatOpenAI(model="gpt-4o-mini", temperature=0)


def git_do(intent: str) -> int:
    msg = llm.invoke(f"Give the git subcommand and arguments for: {intent}. No prose.")
    args = msg.content.strip()
    return os.system(f"git {args}")
