"""``GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event`` (client-server API
"Timestamp to event", v1.6)."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.client.rooms.params import int_query, me, room_id
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.core.errors import missing_param
from conduwuit.service.federation.timestamps import RemoteTimestamps


class TimestampHandlers:
    def __init__(self, timestamps: RemoteTimestamps) -> None:
        self.timestamps = timestamps

    async def timestamp_to_event(self, request: web.Request) -> web.Response:
        if "ts" not in request.query:
            raise missing_param("Missing parameter: ts")
        ts = int_query(request, "ts", 0)
        body = await self.timestamps.closest(
            me(request), room_id(request), ts, request.query.get("dir", "")
        )
        return web.json_response(body)

    def routes(self) -> list[Route]:
        return [
            Route(
                "GET",
                client_paths("/rooms/{room_id}/timestamp_to_event", versions=("v1",)),
                self.timestamp_to_event,
                Auth.ACCESS_TOKEN,
            )
        ]


def routes(timestamps: RemoteTimestamps) -> list[Route]:
    return TimestampHandlers(timestamps).routes()
