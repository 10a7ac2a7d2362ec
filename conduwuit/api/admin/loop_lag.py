"""GET /_conduwuit/admin/v1/loop_lag: the event-loop stall figures, for admins.

Served only while ``loop_lag_monitor`` is on. ``?reset=true`` answers with the
figures so far and starts a new window (how a benchmark brackets one request).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from conduwuit.api.auth import requester
from conduwuit.api.router import Auth, Route
from conduwuit.core.errors import forbidden, invalid_param
from conduwuit.service.loop_lag import LoopLag

PATH = "/_conduwuit/admin/v1/loop_lag"


class LoopLagHandlers:
    def __init__(self, monitor: LoopLag, is_admin: Callable[[str], bool]) -> None:
        self.monitor = monitor
        self.is_admin = is_admin

    async def get_loop_lag(self, request: web.Request) -> web.Response:
        if not self.is_admin(requester(request).user_id):
            raise forbidden("Only server admins may read the loop lag")
        reset = request.query.get("reset", "false")
        if reset not in ("true", "false"):
            raise invalid_param("reset must be true or false")
        return web.json_response(self.monitor.take(reset=reset == "true"))

    def routes(self) -> list[Route]:
        return [Route("GET", (PATH,), self.get_loop_lag, Auth.ACCESS_TOKEN)]


def routes(monitor: LoopLag, is_admin: Callable[[str], bool]) -> list[Route]:
    return LoopLagHandlers(monitor, is_admin).routes()
