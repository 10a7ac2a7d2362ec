"""Timeline reads: ``/messages``, ``/context/{eventId}``, ``/event/{eventId}``
(client-server API "Getting events for a room")."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from conduwuit.api.client.rooms.params import device, int_query, me, room_id
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.core.errors import bad_json, not_found
from conduwuit.core.event_filter import RoomEventFilter, check_filter_size, parse_filter_json
from conduwuit.service.filters import Filters
from conduwuit.service.rooms.history import RoomHistory


class ReadHandlers:
    def __init__(self, history: RoomHistory, filters: Filters) -> None:
        self.history = history
        self.filters = filters

    def _filter(self, request: web.Request) -> RoomEventFilter:
        """A RoomEventFilter as JSON, or (as Synapse accepts) the ID of an uploaded
        filter, whose ``room.timeline`` part applies."""
        raw = request.query.get("filter")
        if raw is None:
            return RoomEventFilter()
        data: Any
        if raw.isascii() and raw.isdigit():
            stored = self.filters.get(str(me(request)), raw)
            if stored is None:
                raise not_found("No such filter")
            check_filter_size(stored)  # one stored before filters were bounded
            data = (stored.get("room") or {}).get("timeline") or {}
        else:
            try:
                data = parse_filter_json(raw)
            except ValueError:
                raise bad_json("filter must be JSON or a filter ID") from None
            check_filter_size(data)
        if not isinstance(data, dict):
            raise bad_json("filter must be a JSON object")
        return RoomEventFilter.from_json(data)

    async def messages(self, request: web.Request) -> web.Response:
        body = await self.history.paginate(
            me(request),
            room_id(request),
            from_token=request.query.get("from"),
            to_token=request.query.get("to"),
            direction=request.query.get("dir", "b"),
            limit=int_query(request, "limit", 10),
            event_filter=self._filter(request),
            device_id=device(request),
        )
        return web.json_response(body)

    async def context(self, request: web.Request) -> web.Response:
        body = self.history.context(
            me(request),
            room_id(request),
            request.match_info["event_id"],
            limit=int_query(request, "limit", 10),
            event_filter=self._filter(request),
            device_id=device(request),
        )
        return web.json_response(body)

    async def event(self, request: web.Request) -> web.Response:
        body = self.history.event(
            me(request), room_id(request), request.match_info["event_id"], device(request)
        )
        return web.json_response(body)

    def routes(self) -> list[Route]:
        room = "/rooms/{room_id}"
        token = Auth.ACCESS_TOKEN
        return [
            Route("GET", client_paths(room + "/messages"), self.messages, token, allow_guests=True),
            Route(
                "GET",
                client_paths(room + "/context/{event_id}"),
                self.context,
                token,
                allow_guests=True,
            ),
            Route(
                "GET",
                client_paths(room + "/event/{event_id}"),
                self.event,
                token,
                allow_guests=True,
            ),
        ]


def routes(history: RoomHistory, filters: Filters) -> list[Route]:
    return ReadHandlers(history, filters).routes()
