import _pickle
from aiohttp import web


async def restore(request: web.Request) -> web.Response:
    data = await request.read()
    state = _pickle.loads(data)
    request.app["state"] = state
    return web.json_response({"keys": sorted(state)})


app = web.Application()
app.router.add_post("/restore", restore)
