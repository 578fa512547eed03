from langchain_community.agent_toolkits.load_tools import load_tools
from langchain_openai import ChatOpenAI

llm = ChatOpenAI()
tools = load_tools(["terminal", "llm-math"], llm=llm, allow_dangerous_tools=True)
