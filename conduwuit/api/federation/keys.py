"""GET /_matrix/key/v2/server: this server's signed key document (server-server API)."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.router import Route
from conduwuit.service.server_keys import ServerKeys


def routes(keys: ServerKeys) -> list[Route]:
    async def server_keys(request: web.Request) -> web.Response:
        return web.json_response(keys.key_document())

    # The spec's deprecated /{keyId} form is still requested by old servers.
    return [
        Route("GET", ("/_matrix/key/v2/server", "/_matrix/key/v2/server/{key_id}"), server_keys)
    ]
