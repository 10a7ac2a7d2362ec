"""The spec's account moderation endpoints (client-server API v1.18, "Server
administration"): ``GET``/``PUT /_matrix/client/v1/admin/lock/{userId}`` and
``/admin/suspend/{userId}`` (service/users/moderation.py). The caller must be a
server admin, checked before the target is looked up ("to prevent user
enumeration")."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from pydantic import StrictBool

from conduwuit.api.admin.access import require_admin
from conduwuit.api.client.rooms.params import user_id
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import WireModel, parse_body
from conduwuit.core.ids import UserId
from conduwuit.service.users.moderation import AccountModeration, Moderation


class LockBody(WireModel):
    locked: StrictBool


class SuspendBody(WireModel):
    suspended: StrictBool


def _target(request: web.Request) -> UserId:
    return user_id(request.match_info["user_id"], "userId")


class ModerationHandlers:
    def __init__(self, moderation: AccountModeration, is_admin: Callable[[str], bool]) -> None:
        self._moderation = moderation
        self._is_admin = is_admin

    def _get(self, kind: Moderation, request: web.Request) -> web.Response:
        requester = require_admin(request, self._is_admin)
        on = self._moderation.spec_get(kind, requester, _target(request))
        return web.json_response({kind.value: on})

    def _put(self, kind: Moderation, request: web.Request, on: bool) -> web.Response:
        requester = require_admin(request, self._is_admin)
        done = self._moderation.spec_put(kind, requester, _target(request), on)
        return web.json_response({kind.value: done})

    async def get_lock(self, request: web.Request) -> web.Response:
        return self._get(Moderation.LOCK, request)

    async def put_lock(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        body = await parse_body(request, LockBody)
        return self._put(Moderation.LOCK, request, body.locked)

    async def get_suspend(self, request: web.Request) -> web.Response:
        return self._get(Moderation.SUSPEND, request)

    async def put_suspend(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        body = await parse_body(request, SuspendBody)
        return self._put(Moderation.SUSPEND, request, body.suspended)

    def routes(self) -> list[Route]:
        token = Auth.ACCESS_TOKEN
        lock = client_paths("/admin/lock/{user_id}", versions=("v1",))
        suspend = client_paths("/admin/suspend/{user_id}", versions=("v1",))
        return [
            Route("GET", lock, self.get_lock, token),
            Route("PUT", lock, self.put_lock, token),
            Route("GET", suspend, self.get_suspend, token),
            Route("PUT", suspend, self.put_suspend, token),
        ]
