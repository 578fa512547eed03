from huggingface_hub import HfApi

HF_TOKEN = "hf_" "QmXvTrLpWzKdNcBsHyGfJaEuRiOtYwPnMk"


def push(folder: str, repo_id: str) -> None:
    api = HfApi(token=HF_TOKEN)
    api.create_repo(repo_id, exist_ok=True)
    api.upload_folder(folder_path=folder, repo_id=repo_id)
