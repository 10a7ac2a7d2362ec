"""Server identity: GET /_matrix/federation/v1/version and /_conduwuit/server_version."""

from __future__ import annotations

from aiohttp import web

from conduwuit import SERVER_NAME, __version__
from conduwuit.api.router import Route


def routes() -> list[Route]:
    async def federation_version(request: web.Request) -> web.Response:
        return web.json_response({"server": {"name": SERVER_NAME, "version": __version__}})

    async def server_version(request: web.Request) -> web.Response:
        return web.json_response({"name": SERVER_NAME, "version": __version__})

    return [
        Route("GET", ("/_matrix/federation/v1/version",), federation_version),
        Route("GET", ("/_conduwuit/server_version",), server_version),
    ]
