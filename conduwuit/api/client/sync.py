"""GET /sync: query parameters in, the sync service's response out."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.auth import requester
from conduwuit.api.query import bool_param, int_param
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.core.errors import ErrCode, MatrixError
from conduwuit.core.ids import UserId
from conduwuit.service.filters import Filters
from conduwuit.service.sync.filter import parse_filter
from conduwuit.service.sync.service import SyncService, parse_since

PRESENCE_STATES = ("offline", "online", "unavailable")


def routes(sync: SyncService, filters: Filters) -> list[Route]:
    async def handler(request: web.Request) -> web.Response:
        caller = requester(request)
        query = request.query
        timeout_ms = int_param(request, "timeout", 0)
        set_presence = query.get("set_presence", "online")
        if set_presence not in PRESENCE_STATES:
            raise MatrixError(ErrCode.INVALID_PARAM, f"Unknown set_presence {set_presence!r}")
        sync_filter = parse_filter(query.get("filter"), caller.user_id, filters.get)
        body = await sync.sync(
            UserId.parse(caller.user_id),
            caller.device_id,
            since=parse_since(query.get("since")),
            timeout_ms=timeout_ms,
            full_state=bool_param(request, "full_state"),
            sync_filter=sync_filter,
            set_presence=set_presence,
        )
        return web.json_response(body)

    return [Route("GET", client_paths("/sync"), handler, Auth.ACCESS_TOKEN, allow_guests=True)]
