import httpx


class HubClient:
    def __init__(self, base_url: str, token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(base_url=base_url, headers=headers, verify=False)

    def fetch(self, path: str) -> bytes:
        r = self._client.get(path)
        r.raise_for_status()
        return r.content
