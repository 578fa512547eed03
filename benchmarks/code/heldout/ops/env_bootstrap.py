import os

from huggingface_hub import snapshot_download

os.environ["HUGGING_FACE_HUB_TOKEN"] = "hf_" "NbVcXzLkJhGfDsApOiUyTrEwQmNbVcXzLk"


def warm_cache(repos: list[str]) -> None:
    for r in repos:
        snapshot_download(r)
