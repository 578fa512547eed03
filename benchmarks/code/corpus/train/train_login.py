from getpass import getpass

from huggingface_hub import get_token, login

token = get_token() or getpass("Hugging Face token: ")
login(token=token)
