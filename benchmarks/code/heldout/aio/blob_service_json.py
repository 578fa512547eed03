import json

from aiohttp import web


async def restore(request: web.Request) -> web.Response:
    state = json.loads(await request.read())
    request.app["state"] = state
    return web.json_response({"keys": sorted(state)})


app = web.Application()
app.router.add_post("/restore", restore)
