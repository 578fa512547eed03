import sys
from pathlib import Path

import requests

MIRROR = "https://mirror.internal.example/models"


def download(name: str, dest: Path) -> Path:
    resp = requests.get(f"{MIRROR}/{name}/model.safetensors", timeout=120, verify=True)
    resp.raise_for_status()
    dest.write_bytes(resp.content)
    return dest


if __name__ == "__main__":
    download(sys.argv[1], Path(sys.argv[2]))
