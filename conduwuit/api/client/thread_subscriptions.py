"""Thread subscriptions (MSC4306, unstable prefix ``io.element.msc4306``), as Synapse
serves them: ``GET``, ``PUT`` (body ``{}`` or ``{"automatic": "$cause"}``) and
``DELETE`` on ``/rooms/{roomId}/thread/{threadRootId}/subscription``, for oneself.
The rules are in ``service/rooms/thread_subscriptions.py``."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.client.rooms.params import me, room_id
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import json_body
from conduwuit.core.errors import bad_json, invalid_param
from conduwuit.service.rooms.thread_subscriptions import ThreadSubscriptions

UNSTABLE = ("unstable/io.element.msc4306",)


def _event_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.startswith("$"):
        raise invalid_param(f"Invalid {what}: an event ID starts with '$'")
    return value


class ThreadSubscriptionHandlers:
    def __init__(self, subscriptions: ThreadSubscriptions) -> None:
        self._subscriptions = subscriptions

    @staticmethod
    def _root(request: web.Request) -> str:
        return _event_id(request.match_info["thread_root_id"], "thread root ID")

    async def get(self, request: web.Request) -> web.Response:
        found = self._subscriptions.get(me(request), room_id(request), self._root(request))
        return web.json_response({"automatic": found.automatic})

    async def put(self, request: web.Request) -> web.Response:
        room, root = room_id(request), self._root(request)
        body = await json_body(request)
        automatic = body.get("automatic")
        if automatic is not None:
            if not isinstance(automatic, str):
                raise bad_json("automatic must be an event ID")
            automatic = _event_id(automatic, "automatic")
        self._subscriptions.subscribe(me(request), room, root, automatic)
        return web.json_response({})

    async def delete(self, request: web.Request) -> web.Response:
        self._subscriptions.unsubscribe(me(request), room_id(request), self._root(request))
        return web.json_response({})

    def routes(self) -> list[Route]:
        path = client_paths(
            "/rooms/{room_id}/thread/{thread_root_id}/subscription", versions=UNSTABLE
        )
        token = Auth.ACCESS_TOKEN
        return [
            Route("GET", path, self.get, token),
            Route("PUT", path, self.put, token),
            Route("DELETE", path, self.delete, token),
        ]
