import os

from huggingface_hub import HfApi

HF_TOKEN = os.environ["HF_TOKEN"]


def push(folder: str, repo_id: str) -> None:
    api = HfApi(token=HF_TOKEN)
    api.upload_folder(folder_path=folder, repo_id=repo_id)
