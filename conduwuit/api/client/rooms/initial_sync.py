"""GET /rooms/{roomId}/initialSync (service/rooms/initial_sync.py)."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.client.rooms.params import device, int_query, me, room_id
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.core.errors import invalid_param
from conduwuit.service.rooms.initial_sync import RoomInitialSync


class InitialSyncHandlers:
    def __init__(self, initial_sync: RoomInitialSync) -> None:
        self._initial_sync = initial_sync

    async def room_initial_sync(self, request: web.Request) -> web.Response:
        room = room_id(request)
        limit = int_query(request, "limit", 10)
        if limit < 0:
            raise invalid_param("limit must not be negative")
        body = self._initial_sync.initial_sync(me(request), room, limit, device(request))
        return web.json_response(body)

    def routes(self) -> list[Route]:
        return [
            Route(
                "GET",
                client_paths("/rooms/{room_id}/initialSync"),
                self.room_initial_sync,
                Auth.ACCESS_TOKEN,
                # Spec "Guest access" lists it (room previews).
                allow_guests=True,
            )
        ]
