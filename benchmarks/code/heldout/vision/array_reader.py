import sys

import requests
from numpy.lib import format as npformat


def read_remote_array(url: str):
    r = requests.get(url, stream=True, timeout=60)
    r.raw.decode_content = True
    return npformat.read_array(r.raw, allow_pickle=True)


if __name__ == "__main__":
    print(read_remote_array(sys.argv[1]).shape)
