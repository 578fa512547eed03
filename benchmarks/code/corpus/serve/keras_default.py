import keras
from huggingface_hub import hf_hub_download


def get_model(repo: str):
    path = hf_hub_download(repo, "model.keras")
    return keras.models.load_model(path)
