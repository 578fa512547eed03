import keyring
from huggingface_hub import HfApi

SERVICE = "huggingface"


def api() -> HfApi:
    token = keyring.get_password(SERVICE, "default")
    return HfApi(token=token)
