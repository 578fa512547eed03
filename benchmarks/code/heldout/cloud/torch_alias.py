import torch as T
from huggingface_hub import hf_hub_download


def fetch(repo: str):
    return T.load(hf_hub_download(repo, "adapter.bin"), map_location="cpu", weights_only=True)
