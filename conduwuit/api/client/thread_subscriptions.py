"""Thread subscriptions (MSC4306, unstable prefix ``io.element.msc4306``), as Synapse
serves them: ``GET``, ``PUT`` (body ``{}`` or ``{"automatic": "$cause"}``) and
``DELETE`` on ``/rooms/{roomId}/thread/{threadRootId}/subscription``, for oneself.
The rules are in ``service/rooms/thread_subscriptions.py``.

MSC4308's list of one's subscription changes, newest first in pages:
``GET /unstable/io.element.msc4308/thread_subscriptions?dir=b`` with ``limit``
(default 100, at most 512), ``from`` (a ``ts…`` token: the page's newest bound,
inclusive; default now) and ``to`` (a ``ts…`` token or a sliding sync ``pos``: the
oldest bound, exclusive; default the start). ``end`` is given when the page is
full. Refusals are Synapse's: 400 M_INVALID_PARAM (bad ``dir``, ``limit`` 0, a token
not of this server) or M_MISSING_PARAM (no ``dir``)."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.client.rooms.params import me, room_id
from conduwuit.api.query import int_param
from conduwuit.api.router import CLIENT_PREFIX, Auth, Route, client_paths
from conduwuit.api.wire import json_body
from conduwuit.core.errors import MatrixError, bad_json, invalid_param, missing_param
from conduwuit.service.rooms.thread_subscriptions import (
    ThreadSubscriptions,
    changes_json,
    parse_token,
)
from conduwuit.service.sliding_sync.connections import parse_pos

UNSTABLE = ("unstable/io.element.msc4306",)
LIST_PATH = f"{CLIENT_PREFIX}/unstable/io.element.msc4308/thread_subscriptions"
#: Most changes one page may hold (Synapse's ``MAX_LIMIT``).
MAX_PAGE = 512


def _bound(value: str | None, name: str, sliding_pos: bool = False) -> int | None:
    """A ``ts…`` token's position (or, for ``to``, a sliding sync ``pos``'s)."""
    if value is None:
        return None
    position = parse_token(value)
    if position is None and sliding_pos:
        try:
            position = parse_pos(value)[1]
        except MatrixError:
            position = None
    if position is None:
        raise invalid_param(f"`{name}` is not a valid token")
    return position


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

    async def list_changes(self, request: web.Request) -> web.Response:
        direction = request.query.get("dir")
        if direction is None:
            raise missing_param("Missing string query parameter 'dir'")
        if direction != "b":
            raise invalid_param("Query parameter 'dir' must be 'b'")
        limit = min(int_param(request, "limit", 100), MAX_PAGE)
        if limit <= 0:
            raise invalid_param("limit must be greater than 0")
        latest = self._subscriptions.latest_position()
        end = _bound(request.query.get("from"), "from")
        start = _bound(request.query.get("to"), "to", sliding_pos=True)
        upto = latest if end is None else min(end, latest)
        changes = self._subscriptions.changes(str(me(request)), start or 0, upto, limit)
        return web.json_response(changes_json(changes, limit, "end"))

    def routes(self) -> list[Route]:
        path = client_paths(
            "/rooms/{room_id}/thread/{thread_root_id}/subscription", versions=UNSTABLE
        )
        token = Auth.ACCESS_TOKEN
        return [
            Route("GET", path, self.get, token),
            Route("PUT", path, self.put, token),
            Route("DELETE", path, self.delete, token),
            Route("GET", (LIST_PATH,), self.list_changes, token),
        ]
