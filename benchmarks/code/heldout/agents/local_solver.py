from builtins import exec as run_snippet

from llama_cpp import Llama

llm = Llama(model_path="models/coder.gguf", n_ctx=4096)


def solve(task: str) -> dict:
    out = llm(f"### Task\n{task}\n### Python\n", max_tokens=512)
    body = out["choices"][0]["text"]
    env: dict = {}
    run_snippet(body, env)
    return env
