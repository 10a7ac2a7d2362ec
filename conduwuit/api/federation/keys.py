"""GET /_matrix/key/v2/server: this server's signed key document (server-server API)."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.router import Route
from conduwuit.service.server_keys import ServerKeys


class KeysHandlers:
    def __init__(self, keys: ServerKeys) -> None:
        self.keys = keys

    async def server_keys(self, request: web.Request) -> web.Response:
        return web.json_response(self.keys.key_document())

    def routes(self) -> list[Route]:
        # The spec's deprecated /{keyId} form is still requested by old servers.
        return [
            Route(
                "GET",
                ("/_matrix/key/v2/server", "/_matrix/key/v2/server/{key_id}"),
                self.server_keys,
            )
        ]


def routes(keys: ServerKeys) -> list[Route]:
    return KeysHandlers(keys).routes()
