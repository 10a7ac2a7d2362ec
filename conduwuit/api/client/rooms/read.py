"""Timeline reads: ``/messages``, ``/context/{eventId}``, ``/event/{eventId}``
(client-server API "Getting events for a room").

An event of ``/event`` or ``/context`` this server does not hold is fetched from the
room's other servers when allowed (``service.federation.unknown_events``), then read
like any other: ``/context`` gives the events around it that are held here (it sits
in a gap of our history, so often none before it: its tokens paginate on and
``/messages`` backfills the rest)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from conduwuit.api.client.rooms.params import device, int_query, me, room_id
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.core.errors import ErrCode, MatrixError, bad_json, not_found
from conduwuit.core.event_filter import RoomEventFilter, check_filter_size, parse_filter_json
from conduwuit.service.federation.unknown_events import UnknownEvents
from conduwuit.service.filters import Filters
from conduwuit.service.rooms.history import RoomHistory

T = TypeVar("T")


class ReadHandlers:
    def __init__(
        self, history: RoomHistory, filters: Filters, unknown: UnknownEvents | None = None
    ) -> None:
        self.history = history
        self.filters = filters
        self.unknown = unknown

    async def _read_event(self, request: web.Request, read: Callable[[], T]) -> T:
        """``read()`` of the event the path names; when it is not found, once more
        after fetching it from the room's other servers, if that placed it here."""
        try:
            return read()
        except MatrixError as exc:
            if exc.errcode != ErrCode.NOT_FOUND or self.unknown is None:
                raise
            event_id = request.match_info["event_id"]
            if not await self.unknown.fetch(me(request), room_id(request), event_id):
                raise
        return read()

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
        limit = int_query(request, "limit", 10)
        event_filter = self._filter(request)
        body = await self._read_event(
            request,
            lambda: self.history.context(
                me(request),
                room_id(request),
                request.match_info["event_id"],
                limit=limit,
                event_filter=event_filter,
                device_id=device(request),
            ),
        )
        return web.json_response(body)

    async def event(self, request: web.Request) -> web.Response:
        body = await self._read_event(
            request,
            lambda: self.history.event(
                me(request), room_id(request), request.match_info["event_id"], device(request)
            ),
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


def routes(
    history: RoomHistory, filters: Filters, unknown: UnknownEvents | None = None
) -> list[Route]:
    return ReadHandlers(history, filters, unknown).routes()
