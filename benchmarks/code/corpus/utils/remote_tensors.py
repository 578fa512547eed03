import io

import httpx
from torch import load as tload


async def fetch_tensor(url: str):
    async with httpx.AsyncClient(timeout=60) as client:
        resp = await client.get(url)
    buf = io.BytesIO(resp.content)
    return tload(buf)
