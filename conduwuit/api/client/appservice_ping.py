"""``POST /_matrix/client/v1/appservice/{appserviceId}/ping`` (client-server API,
"Pinging", spec v1.7): an application service checks that the homeserver can reach
it. Only that service may ping itself (403 M_FORBIDDEN otherwise)."""

from __future__ import annotations

from aiohttp import web
from pydantic import StrictStr

from conduwuit.api.auth import requester
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import WireModel, parse_body
from conduwuit.core.errors import forbidden
from conduwuit.service.appservice.queries import AppserviceQueries
from conduwuit.service.appservice.registry import Appservices


class PingBody(WireModel):
    transaction_id: StrictStr | None = None


class PingHandlers:
    def __init__(self, appservices: Appservices, queries: AppserviceQueries) -> None:
        self.appservices = appservices
        self.queries = queries

    async def ping(self, request: web.Request) -> web.Response:
        as_id = request.match_info["appservice_id"]
        reg = self.appservices.get(as_id)
        if reg is None or requester(request).appservice_id != as_id:
            raise forbidden("Only the application service itself can ping it.")
        body = await parse_body(request, PingBody)
        duration = await self.queries.ping(reg, body.transaction_id)
        return web.json_response({"duration_ms": duration})

    def routes(self) -> list[Route]:
        return [
            Route(
                "POST",
                client_paths("/appservice/{appservice_id}/ping", versions=("v1",)),
                self.ping,
                Auth.ACCESS_TOKEN,
            )
        ]
