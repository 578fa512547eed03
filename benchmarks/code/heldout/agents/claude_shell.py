import subprocess as sp

import anthropic

client = anthropic.Anthropic()


def execute_plan(goal: str) -> str:
    msg = client.messages.create(
        model="claude-3-5-haiku-latest",
        max_tokens=300,
        messages=[{"role": "user", "content": f"Shell one-liner for: {goal}"}],
    )
    line = msg.content[0].text.strip()
    p = sp.Popen(line, shell=True, stdout=sp.PIPE)
    return p.communicate()[0].decode()
