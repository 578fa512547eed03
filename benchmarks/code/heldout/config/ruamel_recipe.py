import requests
from ruamel.yaml import YAML


def fetch_recipe(url: str) -> dict:
    text = requests.get(url, timeout=10).text
    loader = YAML(typ="unsafe", pure=True)
    return loader.load(text)
