import fsspec
from pandas import read_pickle as rp


def frame_from_uri(uri: str):
    with fsspec.open(uri, "rb") as fh:
        return rp(fh)
