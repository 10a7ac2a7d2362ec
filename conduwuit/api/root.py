"""GET /: a small page saying which server this is.

jinja2 is imported on the first request for the page, not at start-up: most servers
never serve it, and the import costs several megabytes of resident memory.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from aiohttp import web

from conduwuit import SERVER_NAME, __version__
from conduwuit.api.router import Route


@cache
def render_index(server_name: str) -> str:
    import jinja2

    environment = jinja2.Environment(autoescape=True)
    template = environment.from_string(
        files("conduwuit").joinpath("templates", "index.html").read_text("utf-8")
    )
    return template.render(server_name=server_name, software=SERVER_NAME, version=__version__)


class RootHandlers:
    def __init__(self, server_name: str) -> None:
        self.server_name = server_name

    async def index(self, request: web.Request) -> web.Response:
        return web.Response(
            text=render_index(self.server_name), content_type="text/html", charset="utf-8"
        )

    def routes(self) -> list[Route]:
        return [Route("GET", ("/",), self.index)]


def routes(server_name: str) -> list[Route]:
    return RootHandlers(server_name).routes()
