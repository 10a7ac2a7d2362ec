"""GET /_synapse/admin/v1/server_version: ``{"server_version": ...}``.

Without authentication, as Synapse serves it (its ``VersionServlet``; synapse-admin
shows it on its login page, before anyone has a token); the federation API's
``/version`` tells the same to anyone.
"""

from __future__ import annotations

from aiohttp import web

from conduwuit import __version__
from conduwuit.api.router import Route

PATH = "/_synapse/admin/v1/server_version"


async def server_version(request: web.Request) -> web.Response:
    return web.json_response({"server_version": __version__})


def routes() -> list[Route]:
    return [Route("GET", (PATH,), server_version)]
