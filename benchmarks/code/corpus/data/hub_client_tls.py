import ssl

import certifi
import httpx


class HubClient:
    def __init__(self, base_url: str) -> None:
        ctx = ssl.create_default_context(cafile=certifi.where())
        self._client = httpx.AsyncClient(base_url=base_url, verify=ctx)

    async def fetch(self, path: str) -> bytes:
        r = await self._client.get(path)
        r.raise_for_status()
        return r.content
