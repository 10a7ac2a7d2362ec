"""The X-Matrix authenticator the router runs before a federation handler.

It reads the body (within the route's limit) because the signature covers it, and
keeps the parsed body on the request for the handler (:func:`federation_body`);
the origin that signed is :func:`origin`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from conduwuit.api.wire import decode_json, read_body
from conduwuit.service.federation.auth import RequestAuth

ORIGIN = web.RequestKey("federation_origin", str)
BODY = web.RequestKey("federation_body", object)


def origin(request: web.Request) -> str:
    """The server that signed a route with ``Auth.SERVER_SIGNATURE``."""
    return request[ORIGIN]


def federation_body(request: web.Request) -> Any:
    """The JSON body of a signed request (None when it had none)."""
    return request.get(BODY)


class ServerAuthenticator:
    def __init__(self, auth: RequestAuth) -> None:
        self.auth = auth

    async def authenticate(self, request: web.Request) -> None:
        self.auth.check_allowed()
        raw = await read_body(request)
        content = decode_json(raw) if raw else None
        request[ORIGIN] = await self.auth.authenticate(
            request.method, request.raw_path, request.headers.get("Authorization"), content
        )
        request[BODY] = content
