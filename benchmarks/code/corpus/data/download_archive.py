import io
import tarfile

import requests

DATA_URL = "https://datasets.example.org/speech/commands-v2.tar.gz"


def fetch_and_unpack(dest: str = "data/raw") -> None:
    resp = requests.get(DATA_URL, timeout=300)
    resp.raise_for_status()
    with tarfile.open(fileobj=io.BytesIO(resp.content), mode="r:gz") as tar:
        tar.extractall(dest)
