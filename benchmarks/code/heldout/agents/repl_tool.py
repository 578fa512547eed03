from langchain.agents import Tool
from langchain_experimental.utilities import PythonREPL

python_repl = PythonREPL()
repl_tool = Tool(
    name="python_repl",
    description="A Python shell. Input should be a valid python command.",
    func=python_repl.run,
)
