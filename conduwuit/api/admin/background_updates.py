"""Synapse's background updates admin API
(docs/usage/administration/admin_api/background_updates.md), answered for this
server's database.

Synapse runs schema changes and data rewrites ("background updates") while it
serves, and lets admins watch and pause them. This server's only database updates
are its migrations (``conduwuit/db/migrations.py``), which ``Database.open`` runs to
completion before any listener starts: while this API can answer, none is running
and none will start. So the status lists no current update, updates are enabled
(nothing holds them back), and pausing them is refused rather than recorded as a
switch that would change nothing. Synapse's ``start_job`` names jobs over its own
tables (room stats, user directory, re-signing) that this server does not keep, and
is not offered (``M_UNRECOGNIZED``). Room purges that resume at start-up are not
background updates (Synapse runs them as scheduled tasks too): their progress is at
``…/v2/rooms/{roomId}/delete_status``. docs/admin-api.md says the same.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from pydantic import StrictBool

from conduwuit.api.admin.access import require_admin
from conduwuit.api.router import Auth, Route
from conduwuit.api.wire import WireModel, json_body, parse
from conduwuit.core.errors import invalid_param

V1 = "/_synapse/admin/v1/background_updates"


class EnabledBody(WireModel):
    # Synapse's default when the field is left out.
    enabled: StrictBool = True


class BackgroundUpdateHandlers:
    def __init__(self, is_admin: Callable[[str], bool]) -> None:
        self._is_admin = is_admin

    async def status(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        # Migrations finished before the listeners started (module docstring).
        return web.json_response({"enabled": True, "current_updates": {}})

    async def get_enabled(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        return web.json_response({"enabled": True})

    async def set_enabled(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        body = parse(EnabledBody, await json_body(request))
        if not body.enabled:
            raise invalid_param(
                "This server runs no background database updates to pause: "
                "its migrations run at start-up, before it serves"
            )
        return web.json_response({"enabled": True})

    def routes(self) -> list[Route]:
        token = Auth.ACCESS_TOKEN
        return [
            Route("GET", (f"{V1}/status",), self.status, token),
            Route("GET", (f"{V1}/enabled",), self.get_enabled, token),
            Route("POST", (f"{V1}/enabled",), self.set_enabled, token),
        ]
