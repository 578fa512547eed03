from langchain_core.tools import tool


@tool
def run_python(code: str) -> str:
    """Execute Python code and return the value of `result`."""
    namespace: dict = {}
    exec(code, namespace)
    return str(namespace.get("result"))


@tool
def word_count(text: str) -> int:
    """Count words."""
    return len(text.split())


TOOLS = [run_python, word_count]
