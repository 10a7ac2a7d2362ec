"""Synapse's user admin API (service/users/admin.py): list, query, create-or-modify,
deactivate, reset password, joined rooms, devices (list, log one out), the admin
flag, shadow-bans, suspension. Every endpoint is for server admins only."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from pydantic import StrictBool, StrictStr

from conduwuit.api.admin.access import page, require_admin
from conduwuit.api.client.rooms.params import user_id
from conduwuit.api.query import bool_param
from conduwuit.api.router import Auth, Route
from conduwuit.api.wire import WireModel, json_body, parse
from conduwuit.core.errors import invalid_param
from conduwuit.core.ids import UserId
from conduwuit.service.users.admin import UserAdmin, UserChange, UserQuery

V1 = "/_synapse/admin/v1"
V2 = "/_synapse/admin/v2"


class UserBody(WireModel):
    password: StrictStr | None = None
    logout_devices: StrictBool = True
    displayname: StrictStr | None = None
    avatar_url: StrictStr | None = None
    admin: StrictBool | None = None
    deactivated: StrictBool | None = None
    locked: StrictBool | None = None
    threepids: list[object] | None = None
    external_ids: list[object] | None = None
    user_type: StrictStr | None = None


class AdminBody(WireModel):
    admin: StrictBool


class SuspendBody(WireModel):
    suspend: StrictBool


class DeactivateBody(WireModel):
    erase: StrictBool = False


class PasswordBody(WireModel):
    new_password: StrictStr
    logout_devices: StrictBool = True


def _target(request: web.Request) -> UserId:
    return user_id(request.match_info["user_id"], "user ID")


class UserAdminHandlers:
    def __init__(self, admin: UserAdmin, is_admin: Callable[[str], bool]) -> None:
        self._admin = admin
        self._is_admin = is_admin

    def _require(self, request: web.Request) -> UserId:
        return require_admin(request, self._is_admin)

    async def list_users(self, request: web.Request) -> web.Response:
        self._require(request)
        paging = page(request)
        admins = request.query.get("admins")
        query = UserQuery(
            start=paging.start,
            limit=paging.limit,
            user_id=request.query.get("user_id"),
            name=request.query.get("name"),
            guests=bool_param(request, "guests", True),
            deactivated=bool_param(request, "deactivated", False),
            locked=bool_param(request, "locked", False),
            admins=None if admins is None else bool_param(request, "admins"),
            order_by=request.query.get("order_by", "name"),
            backwards=paging.backwards,
        )
        return web.json_response(self._admin.list_users(query))

    async def get_user(self, request: web.Request) -> web.Response:
        self._require(request)
        return web.json_response(self._admin.details(_target(request)))

    async def put_user(self, request: web.Request) -> web.Response:
        requester = self._require(request)
        target = _target(request)
        body = parse(UserBody, await json_body(request))
        # Refused rather than dropped: this server keeps neither.
        if body.threepids or body.external_ids:
            raise invalid_param("Third-party and external IDs are not supported by this server")
        if body.user_type is not None:
            raise invalid_param("User types are not supported by this server")
        change = UserChange(
            password=body.password,
            logout_devices=body.logout_devices,
            displayname=body.displayname,
            avatar_url=body.avatar_url,
            admin=body.admin,
            deactivated=body.deactivated,
            locked=body.locked,
        )
        created, details = await self._admin.create_or_modify(requester, target, change)
        return web.json_response(details, status=201 if created else 200)

    async def deactivate(self, request: web.Request) -> web.Response:
        self._require(request)
        target = _target(request)
        body = parse(DeactivateBody, await json_body(request))  # an empty body is {}
        await self._admin.deactivate(target, erase=body.erase)
        # No identity servers are bound by this server: nothing to unbind.
        return web.json_response({"id_server_unbind_result": "success"})

    async def reset_password(self, request: web.Request) -> web.Response:
        self._require(request)
        target = _target(request)
        body = parse(PasswordBody, await json_body(request))
        await self._admin.reset_password(target, body.new_password, body.logout_devices)
        return web.json_response({})

    async def pushers(self, request: web.Request) -> web.Response:
        self._require(request)
        return web.json_response(self._admin.pushers(_target(request)))

    async def joined_rooms(self, request: web.Request) -> web.Response:
        self._require(request)
        return web.json_response(self._admin.joined_rooms(_target(request)))

    async def get_admin(self, request: web.Request) -> web.Response:
        self._require(request)
        return web.json_response({"admin": self._admin.is_admin(_target(request))})

    async def put_admin(self, request: web.Request) -> web.Response:
        requester = self._require(request)
        target = _target(request)
        body = parse(AdminBody, await json_body(request))
        await self._admin.set_admin(requester, target, body.admin)
        return web.json_response({})

    async def devices(self, request: web.Request) -> web.Response:
        self._require(request)
        return web.json_response(self._admin.devices(_target(request)))

    async def delete_device(self, request: web.Request) -> web.Response:
        self._require(request)
        self._admin.delete_device(_target(request), request.match_info["device_id"])
        return web.json_response({})

    async def shadow_ban(self, request: web.Request) -> web.Response:
        self._require(request)
        self._admin.set_shadow_banned(_target(request), request.method == "POST")
        return web.json_response({})

    async def suspend(self, request: web.Request) -> web.Response:
        self._require(request)
        target = _target(request)
        body = parse(SuspendBody, await json_body(request))
        return web.json_response(self._admin.set_suspended(target, body.suspend))

    def routes(self) -> list[Route]:
        token = Auth.ACCESS_TOKEN
        return [
            Route("GET", (f"{V2}/users",), self.list_users, token),
            Route("GET", (f"{V2}/users/{{user_id}}",), self.get_user, token),
            Route("PUT", (f"{V2}/users/{{user_id}}",), self.put_user, token),
            Route("POST", (f"{V1}/deactivate/{{user_id}}",), self.deactivate, token),
            Route("POST", (f"{V1}/reset_password/{{user_id}}",), self.reset_password, token),
            Route("GET", (f"{V1}/users/{{user_id}}/joined_rooms",), self.joined_rooms, token),
            Route("GET", (f"{V1}/users/{{user_id}}/pushers",), self.pushers, token),
            Route("GET", (f"{V1}/users/{{user_id}}/admin",), self.get_admin, token),
            Route("PUT", (f"{V1}/users/{{user_id}}/admin",), self.put_admin, token),
            Route("POST", (f"{V1}/users/{{user_id}}/shadow_ban",), self.shadow_ban, token),
            Route("DELETE", (f"{V1}/users/{{user_id}}/shadow_ban",), self.shadow_ban, token),
            Route("PUT", (f"{V1}/suspend/{{user_id}}",), self.suspend, token),
            Route("GET", (f"{V2}/users/{{user_id}}/devices",), self.devices, token),
            Route(
                "DELETE",
                (f"{V2}/users/{{user_id}}/devices/{{device_id}}",),
                self.delete_device,
                token,
            ),
        ]
