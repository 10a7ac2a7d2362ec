"""Pushers API: GET /pushers and POST /pushers/set (client-server API "Push
Notifications", pusher.yaml).

``kind: "http"`` creates or updates, ``kind: null`` deletes (200 also when there
was nothing to delete, as Synapse answers). Refusals, each writing nothing:
M_MISSING_PARAM for missing fields (all named), M_BAD_JSON for wrong types,
M_INVALID_PARAM for a bad gateway URL, an unknown kind, a value over its limit, or
a gateway host outside ``ip_range_denylist``'s allowance; ``kind: "email"`` is
M_THREEPID_NOT_FOUND (no email addresses are bound to accounts here).
"""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.auth import requester
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import json_body
from conduwuit.service.push.pushers import Pushers


class PusherHandlers:
    def __init__(self, pushers: Pushers) -> None:
        self._pushers = pushers

    async def get_pushers(self, request: web.Request) -> web.Response:
        user_id = requester(request).user_id
        pushers = [pusher.to_client() for pusher in self._pushers.of_user(user_id)]
        return web.json_response({"pushers": pushers})

    async def set_pusher(self, request: web.Request) -> web.Response:
        caller = requester(request)
        body = await json_body(request)
        await self._pushers.set(caller.user_id, caller.device_id, body)
        return web.json_response({})

    def routes(self) -> list[Route]:
        token = Auth.ACCESS_TOKEN
        return [
            Route("GET", client_paths("/pushers"), self.get_pushers, token),
            Route("POST", client_paths("/pushers/set"), self.set_pusher, token),
        ]
