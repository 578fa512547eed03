import os

import requests

CA_BUNDLE = os.environ.get("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")


def fetch(url: str) -> bytes:
    r = requests.get(url, timeout=60, verify=CA_BUNDLE)
    r.raise_for_status()
    return r.content
