"""Test helpers of the passive and site checks (H5): serve a WSGI app on a free loopback port
in a thread (plain http or TLS with a throw-away certificate) and fetch pages with the real
scan client.

The test servers send no ``Server: Werkzeug/x Python/y`` banner (a route that wants one sets it
itself), so a twin route shows no version banner by accident.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

from secpipe.scanners.web.http import Client, ClientSettings, origin_of
from secpipe.scanners.web.model import Exchange, Request, Site, WebFinding


class QuietHandler(WSGIRequestHandler):
    """No request log, no Server banner."""

    def version_string(self) -> str:
        return "testserver"

    def log(self, type: str, message: str, *args: Any) -> None:
        return None


@contextmanager
def serve(app: Callable[..., Any], *, tls: bool = False) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port) and yield its base URL; stopped on exit."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler,
                         ssl_context="adhoc" if tls else None)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    scheme = "https" if tls else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def client_for(base: str, **kwargs: Any) -> Client:
    return Client(ClientSettings(origins=(origin_of(base),), verify_tls=False, timeout=5.0,
                                 max_seconds=60.0, **kwargs))


def fetch(client: Client, url: str, method: str = "GET",
          headers: tuple[tuple[str, str], ...] = ()) -> Exchange:
    request = Request(method, url, headers)
    return Exchange(request, client.send(request))


def site_for(client: Client, base: str, paths: list[str] | None = None,
             not_found: bool = True) -> Site:
    """A Site as the crawler would build it: the pages at ``paths`` and the soft-404 baseline."""
    site = Site(base_url=base + "/", origins=(origin_of(base),))
    for path in paths or []:
        site.pages.append(fetch(client, base + path))
    if not_found:
        site.not_found = client.get(base + "/sp0nonexistent7/sp1nope.html")
    return site


def pairs(findings: list[WebFinding]) -> set[tuple[str, str]]:
    """(kind, detail) of each finding."""
    return {(f.kind, f.detail) for f in findings}


def kinds(findings: list[WebFinding]) -> set[str]:
    return {f.kind for f in findings}
