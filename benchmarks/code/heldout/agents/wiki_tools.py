from langchain_community.agent_toolkits.load_tools import load_tools
from langchain_openai import ChatOpenAI

llm = ChatOpenAI()
tools = load_tools(["wikipedia", "arxiv"], llm=llm)
