import os
import urllib.request

import dill

CACHE = os.path.expanduser("~/.cache/pipeline")


def restore_pipeline(url: str):
    os.makedirs(CACHE, exist_ok=True)
    cached_file = os.path.join(CACHE, os.path.basename(url))
    urllib.request.urlretrieve(url, cached_file)
    with open(cached_file, "rb") as fh:
        return dill.load(fh)
