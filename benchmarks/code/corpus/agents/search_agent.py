from langchain.agents import AgentExecutor, create_react_agent
from langchain import hub
from langchain_community.tools import DuckDuckGoSearchRun, WikipediaQueryRun
from langchain_community.utilities import WikipediaAPIWrapper
from langchain_openai import ChatOpenAI

tools = [DuckDuckGoSearchRun(), WikipediaQueryRun(api_wrapper=WikipediaAPIWrapper())]
agent = create_react_agent(ChatOpenAI(model="gpt-4o"), tools, hub.pull("hwchase17/react"))
executor = AgentExecutor(agent=agent, tools=tools)
