"""Third-party networks (client-server API "Third-party networks"): protocols come
from application services, and this server does not yet ask the registered ones
(their ``protocols``), so it answers as Synapse does without appservices: no
protocols, 404 for any one protocol, and empty lists for lookups (Synapse asks every
interested appservice and returns what they found)."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.core.errors import missing_param, not_found


class ThirdPartyHandlers:
    async def protocols(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def protocol(self, request: web.Request) -> web.Response:
        raise not_found("Unknown protocol")

    async def lookup(self, request: web.Request) -> web.Response:
        return web.json_response([])

    @staticmethod
    def _required(request: web.Request, name: str) -> None:
        if not request.query.get(name):
            raise missing_param(f"Missing parameter: {name}")

    async def location_by_alias(self, request: web.Request) -> web.Response:
        self._required(request, "alias")
        return web.json_response([])

    async def user_by_id(self, request: web.Request) -> web.Response:
        self._required(request, "userid")
        return web.json_response([])

    def routes(self) -> list[Route]:
        token = Auth.ACCESS_TOKEN
        return [
            Route("GET", client_paths("/thirdparty/protocols"), self.protocols, token),
            Route("GET", client_paths("/thirdparty/protocol/{protocol}"), self.protocol, token),
            Route("GET", client_paths("/thirdparty/location/{protocol}"), self.lookup, token),
            Route("GET", client_paths("/thirdparty/user/{protocol}"), self.lookup, token),
            Route("GET", client_paths("/thirdparty/location"), self.location_by_alias, token),
            Route("GET", client_paths("/thirdparty/user"), self.user_by_id, token),
        ]
