import subprocess

from openai import OpenAI

client = OpenAI()
SYSTEM = "Translate the user's request into a single bash command. Reply with the command only."


def run_request(request_text: str) -> str:
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": request_text}],
    )
    cmd = completion.choices[0].message.content
    proc = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    return proc.stdout
