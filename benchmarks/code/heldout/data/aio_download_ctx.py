import ssl

import aiohttp

SSL_CTX = ssl.create_default_context()


async def fetch_all(urls: list[str]) -> list[bytes]:
    results = []
    async with aiohttp.ClientSession() as session:
        for u in urls:
            async with session.get(u, ssl=SSL_CTX) as resp:
                results.append(await resp.read())
    return results
