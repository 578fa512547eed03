import aiohttp


async def fetch_all(urls: list[str]) -> list[bytes]:
    results = []
    async with aiohttp.ClientSession() as session:
        for u in urls:
            async with session.get(u, ssl=False) as resp:
                results.append(await resp.read())
    return results
