"""``GET/PUT /presence/{userId}/status`` (client-server API "Presence")."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.client.rooms.params import me, user_id
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import json_body
from conduwuit.core.errors import bad_json, forbidden, missing_param
from conduwuit.service.presence import Presence
from conduwuit.service.ratelimit import RateLimits


class PresenceHandlers:
    def __init__(self, presence: Presence, *, limits: RateLimits) -> None:
        self.presence = presence
        self.limits = limits

    async def get_status(self, request: web.Request) -> web.Response:
        target = user_id(request.match_info["user_id"])
        return web.json_response(self.presence.get(me(request), target))

    async def put_status(self, request: web.Request) -> web.Response:
        target = user_id(request.match_info["user_id"])
        if target != me(request):
            raise forbidden("You may only set your own presence")
        body = await json_body(request)
        state = body.get("presence")
        if not isinstance(state, str):
            raise missing_param("Missing parameter: presence")
        status_msg = body.get("status_msg")
        if status_msg is not None and not isinstance(status_msg, str):
            raise bad_json("status_msg must be a string")
        self.limits.user(self.limits.presence, str(target))
        self.presence.set(target, state, status_msg)
        return web.json_response({})

    def routes(self) -> list[Route]:
        paths = client_paths("/presence/{user_id}/status")
        return [
            Route("GET", paths, self.get_status, Auth.ACCESS_TOKEN),
            Route("PUT", paths, self.put_status, Auth.ACCESS_TOKEN),
        ]


def routes(presence: Presence, *, limits: RateLimits) -> list[Route]:
    return PresenceHandlers(presence, limits=limits).routes()
