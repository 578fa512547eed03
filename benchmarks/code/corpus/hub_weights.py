import torch
from huggingface_hub import hf_hub_download


def fetch_state_dict(repo_id: str):
    path = hf_hub_download(repo_id=repo_id, filename="pytorch_model.bin")
    return torch.load(path, weights_only=True, map_location="cpu")
