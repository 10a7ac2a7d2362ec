"""``POST /rooms/{roomId}/report/{eventId}`` and ``POST /rooms/{roomId}/report``
(client-server API "Reporting content"), and the random wait every report takes."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

from aiohttp import web

from conduwuit.api.client.rooms.params import me, room_id
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import json_body
from conduwuit.core.errors import bad_json
from conduwuit.service.rooms.reports import Reports


async def report_delay() -> None:
    """conduwuit waits a random 2-5 s before answering a report, so the timing does
    not reveal whether the reported event exists. User reports
    (``conduwuit/api/client/report_user.py``) take the same wait."""
    await asyncio.sleep(random.uniform(2, 5))


class ReportHandlers:
    def __init__(
        self,
        reports: Reports,
        delay: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.reports = reports
        self.delay = delay

    async def wait(self) -> None:
        # Looked up at call time so tests can replace the module's report_delay.
        await (self.delay or report_delay)()

    def _reason(self, body: dict[str, object]) -> str | None:
        reason = body.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise bad_json("reason must be a string")
        return reason

    async def report_event(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        score = body.get("score")
        await self.wait()
        self.reports.report_event(
            me(request),
            room_id(request),
            request.match_info["event_id"],
            self._reason(body),
            score if isinstance(score, int) else None,
        )
        return web.json_response({})

    async def report_room(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        await self.wait()
        self.reports.report_room(me(request), room_id(request), self._reason(body))
        return web.json_response({})

    def routes(self) -> list[Route]:
        room = "/rooms/{room_id}"
        token = Auth.ACCESS_TOKEN
        return [
            Route("POST", client_paths(room + "/report/{event_id}"), self.report_event, token),
            Route("POST", client_paths(room + "/report"), self.report_room, token),
        ]


def routes(
    reports: Reports,
    delay: Callable[[], Awaitable[None]] | None = None,
) -> list[Route]:
    return ReportHandlers(reports, delay).routes()
