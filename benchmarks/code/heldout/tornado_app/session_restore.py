import jsonpickle
import tornado.web


class RestoreHandler(tornado.web.RequestHandler):
    def post(self):
        payload = self.request.body.decode()
        session = jsonpickle.decode(payload)
        self.write({"user": getattr(session, "user", None)})
