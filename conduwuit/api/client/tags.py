"""Room tags: GET ``/user/{userId}/rooms/{roomId}/tags``, PUT and DELETE
``.../tags/{tag}``; only for yourself (403 otherwise, as Synapse)."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.client.rooms.params import me, room_id
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import json_body
from conduwuit.core.errors import forbidden
from conduwuit.core.ids import RoomId, UserId
from conduwuit.service.tags import Tags


class TagHandlers:
    def __init__(self, tags: Tags) -> None:
        self._tags = tags

    @staticmethod
    def _target(request: web.Request) -> tuple[UserId, RoomId]:
        user = me(request)
        if request.match_info["user_id"] != str(user):
            raise forbidden("Cannot get or set tags for other users.")
        return user, room_id(request)

    async def get(self, request: web.Request) -> web.Response:
        user, room = self._target(request)
        return web.json_response({"tags": self._tags.get(user, room)})

    async def put(self, request: web.Request) -> web.Response:
        user, room = self._target(request)
        # Not canonical_body: `order` is a float, which canonical JSON refuses.
        info = await json_body(request)
        self._tags.put(user, room, request.match_info["tag"], info)
        return web.json_response({})

    async def delete(self, request: web.Request) -> web.Response:
        user, room = self._target(request)
        self._tags.delete(user, room, request.match_info["tag"])
        return web.json_response({})

    def routes(self) -> list[Route]:
        tags = "/user/{user_id}/rooms/{room_id}/tags"
        one = tags + "/{tag}"
        token = Auth.ACCESS_TOKEN
        return [
            Route("GET", client_paths(tags), self.get, token),
            Route("PUT", client_paths(one), self.put, token),
            Route("DELETE", client_paths(one), self.delete, token),
        ]
