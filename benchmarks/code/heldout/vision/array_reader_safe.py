import io
import sys

import numpy as np
import requests


def read_remote_array(url: str) -> np.ndarray:
    r = requests.get(url, timeout=60)
    return np.lib.format.read_array(io.BytesIO(r.content), allow_pickle=False)


if __name__ == "__main__":
    print(read_remote_array(sys.argv[1]).shape)
