from langchain_core.prompts import ChatPromptTemplate
from langchain_openai import ChatOpenAI

prompt = ChatPromptTemplate.from_template(
    "Write Python code that computes: {task}. Reply with code only."
)
chain = prompt | ChatOpenAI(model="gpt-4o")


def solve(task: str) -> dict:
    result = chain.invoke({"task": task})
    code = result.content.strip("`")
    scope: dict = {}
    exec(code, scope)
    return scope
