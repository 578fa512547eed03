import requests
import yaml


def load_training_config(run_id: str) -> dict:
    url = f"https://configs.example.org/runs/{run_id}/config.yaml"
    body = requests.get(url, timeout=10).text
    return yaml.load(body, Loader=yaml.Loader)
