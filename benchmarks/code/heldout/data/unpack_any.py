import shutil
import urllib.request


def get_corpus(url: str, target: str) -> str:
    archive, _ = urllib.request.urlretrieve(url)
    shutil.unpack_archive(archive, target, format="gztar")
    return target
