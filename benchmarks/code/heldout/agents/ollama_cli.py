import os

import ollama


def suggest_and_run(task: str) -> str:
    reply = ollama.chat(model="llama3.2", messages=[{"role": "user", "content": task}])
    suggestion = reply["message"]["content"]
    with os.popen(suggestion) as pipe:
        return pipe.read()
