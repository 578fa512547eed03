from huggingface_hub import hf_hub_download
from safetensors.torch import load_file


def fetch(repo_id: str, device: str = "cpu"):
    local = hf_hub_download(repo_id, "model.safetensors")
    return load_file(local, device=device)
