"""GET /sync: query parameters in, the sync service's response out."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from conduwuit.api.auth import requester
from conduwuit.api.query import bool_param, int_param
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.core.errors import invalid_param
from conduwuit.core.ids import UserId
from conduwuit.service.filters import Filters
from conduwuit.service.give_way import GiveWay
from conduwuit.service.sync.filter import parse_filter
from conduwuit.service.sync.service import SyncService, parse_since

PRESENCE_STATES = ("offline", "online", "unavailable")


async def encode(value: Any, give_way: GiveWay, depth: int = 3) -> bytes:
    """``json.dumps(value)`` byte for byte, but the top ``depth`` levels of objects
    (response, ``rooms``, ``join``...) one member at a time, giving way between them:
    the encoding of a response of hundreds of rooms does not hold the loop either."""
    return (await _encode(value, give_way, depth)).encode()


async def _encode(value: Any, give_way: GiveWay, depth: int) -> str:
    if depth == 0 or not isinstance(value, dict) or not value:
        return json.dumps(value)
    members = []
    for key, item in value.items():
        await give_way.pause()
        members.append(f"{json.dumps(key)}: {await _encode(item, give_way, depth - 1)}")
    return "{" + ", ".join(members) + "}"


class SyncHandlers:
    def __init__(self, sync: SyncService, filters: Filters) -> None:
        self.sync = sync
        self.filters = filters

    async def get_sync(self, request: web.Request) -> web.Response:
        caller = requester(request)
        query = request.query
        timeout_ms = int_param(request, "timeout", 0)
        set_presence = query.get("set_presence", "online")
        if set_presence not in PRESENCE_STATES:
            raise invalid_param(f"Unknown set_presence {set_presence!r}")
        sync_filter = parse_filter(query.get("filter"), caller.user_id, self.filters.get)
        body = await self.sync.sync(
            UserId.parse(caller.user_id),
            caller.device_id,
            since=parse_since(query.get("since")),
            timeout_ms=timeout_ms,
            full_state=bool_param(request, "full_state"),
            sync_filter=sync_filter,
            set_presence=set_presence,
            use_state_after=bool_param(request, "use_state_after"),
        )
        encoded = await encode(body, GiveWay())
        return web.Response(body=encoded, content_type="application/json")

    def routes(self) -> list[Route]:
        return [
            Route("GET", client_paths("/sync"), self.get_sync, Auth.ACCESS_TOKEN, allow_guests=True)
        ]


def routes(sync: SyncService, filters: Filters) -> list[Route]:
    return SyncHandlers(sync, filters).routes()
