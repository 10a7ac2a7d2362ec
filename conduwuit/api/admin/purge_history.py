"""Synapse's Purge History API (docs/admin_api/purge_history_api.md): purge a room's
history up to an event or a time (service/rooms/purge_history.py), and the status
of a purge. For server admins only."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from pydantic import StrictBool, StrictInt, StrictStr

from conduwuit.api.admin.access import require_admin
from conduwuit.api.client.rooms.params import room_id
from conduwuit.api.router import Auth, Route
from conduwuit.api.wire import WireModel, json_body, parse
from conduwuit.core.errors import bad_json, invalid_param
from conduwuit.core.ids import EventId
from conduwuit.service.rooms.purge_history import HistoryPurges

V1 = "/_synapse/admin/v1"


class PurgeBody(WireModel):
    delete_local_events: StrictBool = False
    purge_up_to_event_id: StrictStr | None = None
    purge_up_to_ts: StrictInt | None = None


def _event_id(raw: str) -> EventId:
    try:
        return EventId.parse(raw)
    except ValueError as exc:
        raise invalid_param(f"Invalid event ID: {exc}") from None


class PurgeHistoryHandlers:
    def __init__(self, purges: HistoryPurges, is_admin: Callable[[str], bool]) -> None:
        self._purges = purges
        self._is_admin = is_admin

    async def purge(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        target = room_id(request)
        body = parse(PurgeBody, await json_body(request))
        # The point to purge up to: the event in the path, or the body's event, or
        # the body's time (Synapse's order).
        raw_event = request.match_info.get("event_id") or body.purge_up_to_event_id
        if raw_event is None and body.purge_up_to_ts is None:
            raise bad_json("must specify purge_up_to_event_id or purge_up_to_ts")
        purge_id = await self._purges.start_purge(
            target,
            event_id=_event_id(raw_event) if raw_event is not None else None,
            before_ts=body.purge_up_to_ts,
            delete_local_events=body.delete_local_events,
        )
        return web.json_response({"purge_id": purge_id})

    async def status(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        return web.json_response(self._purges.status(request.match_info["purge_id"]))

    def routes(self) -> list[Route]:
        token = Auth.ACCESS_TOKEN
        paths = (f"{V1}/purge_history/{{room_id}}", f"{V1}/purge_history/{{room_id}}/{{event_id}}")
        return [
            Route("POST", paths, self.purge, token),
            Route("GET", (f"{V1}/purge_history_status/{{purge_id}}",), self.status, token),
        ]
