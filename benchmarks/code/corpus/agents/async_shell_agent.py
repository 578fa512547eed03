import asyncio

from anthropic import AsyncAnthropic

client = AsyncAnthropic()


async def act(goal: str) -> bytes:
    msg = await client.messages.create(
        model="claude-3-5-sonnet-latest",
        max_tokens=200,
        messages=[{"role": "user", "content": f"One shell command to: {goal}"}],
    )
    command = msg.content[0].text
    proc = await asyncio.create_subprocess_shell(command, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    return out
