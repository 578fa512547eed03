from langchain.agents import AgentType, initialize_agent
from langchain_community.tools import ShellTool
from langchain_openai import ChatOpenAI

shell_tool = ShellTool()
agent = initialize_agent(
    [shell_tool],
    ChatOpenAI(temperature=0),
    agent=AgentType.STRUCTURED_CHAT_ZERO_SHOT_REACT_DESCRIPTION,
)

if __name__ == "__main__":
    agent.run("Free up disk space in /var/tmp")
