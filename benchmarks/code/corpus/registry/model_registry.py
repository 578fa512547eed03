import os

import torch
from huggingface_hub import snapshot_download


class ModelRegistry:
    def __init__(self, repo_id: str) -> None:
        self.repo_id = repo_id
        self.root = snapshot_download(repo_id)

    def weights_path(self, name: str) -> str:
        return os.path.join(self.root, name)

    def load_head(self, name: str = "head.pt"):
        path = self.weights_path(name)
        return torch.load(path, map_location="cpu")
