from pathlib import Path

import yaml
from huggingface_hub import hf_hub_download


def recipe_for(repo_id: str) -> dict:
    path = hf_hub_download(repo_id, "recipe.yaml")
    text = Path(path).read_text()
    return yaml.unsafe_load(text)
