import subprocess

from openai import OpenAI

client = OpenAI()
ALLOWED = {
    "disk": ["df", "-h"],
    "uptime": ["uptime"],
    "gpu": ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv"],
}


def run_request(request_text: str) -> str:
    c = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": f"Pick one of {list(ALLOWED)} for: {request_text}"}],
    )
    choice = c.choices[0].message.content.strip()
    if choice not in ALLOWED:
        return "refused"
    return subprocess.run(ALLOWED[choice], capture_output=True, text=True, check=False).stdout
