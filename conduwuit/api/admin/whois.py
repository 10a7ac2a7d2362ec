"""GET /admin/whois/{userId}: a user's devices and sessions (service/users/whois.py),
also at Synapse's ``/_synapse/admin/v1/whois/{userId}`` (where synapse-admin asks)."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.client.rooms.params import me, user_id
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.service.users.whois import Whois


class WhoisHandlers:
    def __init__(self, whois: Whois) -> None:
        self._whois = whois

    async def whois(self, request: web.Request) -> web.Response:
        target = user_id(request.match_info["user_id"], "userId")
        return web.json_response(self._whois.whois(me(request), target))

    def routes(self) -> list[Route]:
        paths = (*client_paths("/admin/whois/{user_id}"), "/_synapse/admin/v1/whois/{user_id}")
        return [Route("GET", paths, self.whois, Auth.ACCESS_TOKEN)]
