"""Synapse's event reports admin API (service/rooms/admin_reports.py): list, details,
delete. For server admins only."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from conduwuit.api.admin.access import page, require_admin
from conduwuit.api.router import Auth, Route
from conduwuit.core.errors import invalid_param
from conduwuit.core.numbers import parse_uint
from conduwuit.service.rooms.admin_reports import EventReportAdmin, ReportQuery

PATH = "/_synapse/admin/v1/event_reports"


def _report_id(request: web.Request) -> int:
    value = parse_uint(request.match_info["report_id"])
    if value is None:
        raise invalid_param(
            "The report_id parameter must be a string representing a positive integer."
        )
    return value


class EventReportHandlers:
    def __init__(self, admin: EventReportAdmin, is_admin: Callable[[str], bool]) -> None:
        self._admin = admin
        self._is_admin = is_admin

    async def list_reports(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        paging = page(request)
        query = ReportQuery(
            start=paging.start,
            limit=paging.limit,
            # Newest first unless dir=f (Synapse's default for this listing is b).
            backwards=request.query.get("dir", "b") == "b",
            room_id=request.query.get("room_id"),
            user_id=request.query.get("user_id"),
            event_sender_user_id=request.query.get("event_sender_user_id"),
        )
        return web.json_response(self._admin.list_reports(query))

    async def details(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        return web.json_response(self._admin.details(_report_id(request)))

    async def delete(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        self._admin.delete(_report_id(request))
        return web.json_response({})

    def routes(self) -> list[Route]:
        token = Auth.ACCESS_TOKEN
        one = f"{PATH}/{{report_id}}"
        return [
            Route("GET", (PATH,), self.list_reports, token),
            Route("GET", (one,), self.details, token),
            Route("DELETE", (one,), self.delete, token),
        ]
