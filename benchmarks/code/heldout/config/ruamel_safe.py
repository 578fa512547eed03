import requests
from ruamel.yaml import YAML


def fetch_recipe(url: str) -> dict:
    text = requests.get(url, timeout=10).text
    return YAML(typ="safe").load(text)
