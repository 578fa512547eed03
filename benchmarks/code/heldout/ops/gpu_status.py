import subprocess

QUERY = "nvidia-smi --query-gpu=memory.used,memory.total --format=csv,noheader"


def gpu_memory() -> str:
    return subprocess.run(QUERY, shell=True, capture_output=True, text=True).stdout
