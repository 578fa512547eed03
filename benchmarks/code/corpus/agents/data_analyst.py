from langchain.agents import AgentExecutor, create_react_agent
from langchain import hub
from langchain_experimental.tools import PythonREPLTool
from langchain_openai import ChatOpenAI

llm = ChatOpenAI(model="gpt-4o", temperature=0)
tools = [PythonREPLTool()]
agent = create_react_agent(llm, tools, hub.pull("hwchase17/react"))
executor = AgentExecutor(agent=agent, tools=tools, verbose=True)


def analyse(question: str) -> str:
    return executor.invoke({"input": question})["output"]
