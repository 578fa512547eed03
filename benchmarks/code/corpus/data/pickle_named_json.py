import json
import os

pickle_path = os.environ.get("LABELS_FILE", "labels.json")


def read_labels():
    with open(pickle_path, encoding="utf-8") as pickle:
        return json.load(pickle)
