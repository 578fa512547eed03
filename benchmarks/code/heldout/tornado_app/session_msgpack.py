import msgpack
import tornado.web


class RestoreHandler(tornado.web.RequestHandler):
    def post(self):
        session = msgpack.unpackb(self.request.body, raw=False, strict_map_key=True)
        self.write({"user": session.get("user")})
