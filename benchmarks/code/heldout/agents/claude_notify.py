import subprocess as sp

import anthropic

client = anthropic.Anthropic()


def notify(goal: str) -> None:
    msg = client.messages.create(
        model="claude-3-5-haiku-latest",
        max_tokens=100,
        messages=[{"role": "user", "content": f"Short status line for: {goal}"}],
    )
    summary = msg.content[0].text.strip()
    sp.run(["notify-send", "--", summary], check=False)
