"""Third-party networks (client-server API "Third-party networks"): the protocols,
locations and users of the networks the registered application services bridge to,
asked of them (``conduwuit/service/appservice/thirdparty.py``). With no service for
a protocol the answers are Synapse's: no protocols, 404 for that protocol, empty
lists for lookups."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.core.errors import missing_param, not_found
from conduwuit.core.thirdparty import ThirdPartyKind
from conduwuit.service.appservice.thirdparty import ThirdPartyLookups


def _fields(request: web.Request) -> list[tuple[str, str]]:
    """The query parameters passed on to the services: all but the access token (as
    Synapse does), repeated ones kept."""
    return [(k, v) for k, v in request.query.items() if k != "access_token"]


def _required(request: web.Request, name: str) -> str:
    value = request.query.get(name)
    if not value:
        raise missing_param(f"Missing parameter: {name}")
    return value


class ThirdPartyHandlers:
    def __init__(self, lookups: ThirdPartyLookups) -> None:
        self._lookups = lookups

    async def protocols(self, request: web.Request) -> web.Response:
        return web.json_response(await self._lookups.protocols())

    async def protocol(self, request: web.Request) -> web.Response:
        name = request.match_info["protocol"]
        found = (await self._lookups.protocols(only=name)).get(name)
        if found is None:
            raise not_found("Unknown protocol")
        return web.json_response(found)

    async def _lookup(self, request: web.Request, kind: ThirdPartyKind) -> web.Response:
        protocol = request.match_info["protocol"]
        return web.json_response(await self._lookups.lookup(kind, protocol, _fields(request)))

    async def location(self, request: web.Request) -> web.Response:
        return await self._lookup(request, ThirdPartyKind.LOCATION)

    async def user(self, request: web.Request) -> web.Response:
        return await self._lookup(request, ThirdPartyKind.USER)

    async def _reverse(self, request: web.Request, kind: ThirdPartyKind) -> web.Response:
        matrix_id = _required(request, kind.matrix_key)
        return web.json_response(await self._lookups.reverse_lookup(kind, matrix_id))

    async def location_by_alias(self, request: web.Request) -> web.Response:
        return await self._reverse(request, ThirdPartyKind.LOCATION)

    async def user_by_id(self, request: web.Request) -> web.Response:
        return await self._reverse(request, ThirdPartyKind.USER)

    def routes(self) -> list[Route]:
        token = Auth.ACCESS_TOKEN
        return [
            Route("GET", client_paths("/thirdparty/protocols"), self.protocols, token),
            Route("GET", client_paths("/thirdparty/protocol/{protocol}"), self.protocol, token),
            Route("GET", client_paths("/thirdparty/location/{protocol}"), self.location, token),
            Route("GET", client_paths("/thirdparty/user/{protocol}"), self.user, token),
            Route("GET", client_paths("/thirdparty/location"), self.location_by_alias, token),
            Route("GET", client_paths("/thirdparty/user"), self.user_by_id, token),
        ]
