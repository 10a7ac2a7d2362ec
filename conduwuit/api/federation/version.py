"""Server identity: GET /_matrix/federation/v1/version and /_conduwuit/server_version."""

from __future__ import annotations

from aiohttp import web

from conduwuit import SERVER_NAME, __version__
from conduwuit.api.router import Route


class VersionHandlers:
    async def federation_version(self, request: web.Request) -> web.Response:
        return web.json_response({"server": {"name": SERVER_NAME, "version": __version__}})

    async def server_version(self, request: web.Request) -> web.Response:
        return web.json_response({"name": SERVER_NAME, "version": __version__})

    def routes(self) -> list[Route]:
        return [
            Route("GET", ("/_matrix/federation/v1/version",), self.federation_version),
            Route("GET", ("/_conduwuit/server_version",), self.server_version),
        ]


def routes() -> list[Route]:
    return VersionHandlers().routes()
