"""POST /users/{userId}/report (client-server API "Reporting users", v1.14)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from conduwuit.api.client.rooms import reports as reports_api
from conduwuit.api.client.rooms.params import me, user_id
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import json_body
from conduwuit.core.errors import bad_json, missing_param
from conduwuit.service.rooms.reports import Reports


class ReportUserHandlers:
    def __init__(
        self, reports: Reports, delay: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self._reports = reports
        self._delay = delay

    async def report(self, request: web.Request) -> web.Response:
        reported = user_id(request.match_info["user_id"], "userId")
        body = await json_body(request)
        if "reason" not in body:
            raise missing_param("Missing parameter: reason")
        reason = body["reason"]
        if not isinstance(reason, str):
            raise bad_json("reason must be a string")
        # The same random wait as room and event reports (looked up at call time so
        # tests can replace it), so timing does not reveal whether the user exists.
        await (self._delay or reports_api.report_delay)()
        self._reports.report_user(me(request), reported, reason)
        return web.json_response({})

    def routes(self) -> list[Route]:
        return [
            Route("POST", client_paths("/users/{user_id}/report"), self.report, Auth.ACCESS_TOKEN)
        ]
