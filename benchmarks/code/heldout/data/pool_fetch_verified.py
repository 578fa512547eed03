import certifi
import urllib3

http = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=certifi.where())


def fetch_shard(url: str, dest: str) -> None:
    with http.request("GET", url, preload_content=False) as r, open(dest, "wb") as out:
        for chunk in r.stream(1 << 16):
            out.write(chunk)
