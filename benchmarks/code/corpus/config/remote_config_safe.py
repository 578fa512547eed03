import requests
import yaml


def load_training_config(run_id: str) -> dict:
    body = requests.get(f"https://configs.example.org/runs/{run_id}/config.yaml", timeout=10).text
    return yaml.safe_load(body)
