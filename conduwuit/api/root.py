"""GET /: a small page saying which server this is."""

from __future__ import annotations

from importlib.resources import files

import jinja2
from aiohttp import web

from conduwuit import SERVER_NAME, __version__
from conduwuit.api.router import Route

_env = jinja2.Environment(
    loader=jinja2.FunctionLoader(
        lambda name: files("conduwuit").joinpath("templates", name).read_text("utf-8")
    ),
    autoescape=True,
)


def routes(server_name: str) -> list[Route]:
    page = _env.get_template("index.html").render(
        server_name=server_name, software=SERVER_NAME, version=__version__
    )

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    return [Route("GET", ("/",), index)]
