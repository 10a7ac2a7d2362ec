"""Reports, ``/timestamp_to_event`` and mutual rooms (MSC2666)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

from aiohttp import web

from conduwuit.api.client.rooms.params import int_query, me, room_id, user_id
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import json_body
from conduwuit.core.errors import bad_json, missing_param
from conduwuit.core.membership import MembershipState
from conduwuit.service.rooms.history import RoomHistory
from conduwuit.service.rooms.member_index import MemberIndex
from conduwuit.service.rooms.reports import Reports
from conduwuit.service.rooms.timestamps import closest_event


async def report_delay() -> None:
    """conduwuit waits a random 2-5 s before answering a report, so the timing does
    not reveal whether the reported event exists."""
    await asyncio.sleep(random.uniform(2, 5))


class MiscHandlers:
    def __init__(
        self,
        reports: Reports,
        history: RoomHistory,
        members: MemberIndex,
        delay: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.reports = reports
        self.history = history
        self.members = members
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

    async def timestamp_to_event(self, request: web.Request) -> web.Response:
        if "ts" not in request.query:
            raise missing_param("Missing parameter: ts")
        ts = int_query(request, "ts", 0)
        body = closest_event(
            self.history, me(request), room_id(request), ts, request.query.get("dir", "")
        )
        return web.json_response(body)

    async def mutual_rooms(self, request: web.Request) -> web.Response:
        other = user_id(request.query.get("user_id"))
        mine = {r.room_id for r in self.members.rooms_of(str(me(request)), (MembershipState.JOIN,))}
        theirs = {r.room_id for r in self.members.rooms_of(str(other), (MembershipState.JOIN,))}
        return web.json_response({"joined": sorted(mine & theirs)})

    def routes(self) -> list[Route]:
        room = "/rooms/{room_id}"
        token = Auth.ACCESS_TOKEN
        return [
            Route("POST", client_paths(room + "/report/{event_id}"), self.report_event, token),
            Route("POST", client_paths(room + "/report"), self.report_room, token),
            Route(
                "GET",
                client_paths(room + "/timestamp_to_event", versions=("v1",)),
                self.timestamp_to_event,
                token,
            ),
            Route(
                "GET",
                ("/_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms",),
                self.mutual_rooms,
                token,
            ),
        ]


def routes(
    reports: Reports,
    history: RoomHistory,
    members: MemberIndex,
    delay: Callable[[], Awaitable[None]] | None = None,
) -> list[Route]:
    return MiscHandlers(reports, history, members, delay).routes()
