"""Synapse's room admin API (service/rooms/admin.py): list, details, members, state,
and deletion (v1 synchronous, v2 with its status endpoints). For server admins only.

Deletion shuts the room down (local members leave, local aliases and the directory
entry go, ``block`` bans it) and with ``purge`` (the default) deletes the room's
data (service/rooms/admin_delete.py).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from pydantic import StrictBool, StrictStr

from conduwuit.api.admin.access import page, require_admin
from conduwuit.api.client.rooms.params import room_id
from conduwuit.api.query import bool_param
from conduwuit.api.router import Auth, Route
from conduwuit.api.wire import WireModel, json_body, parse
from conduwuit.core.errors import invalid_param
from conduwuit.service.rooms.admin import RoomAdmin, RoomQuery
from conduwuit.service.rooms.admin_delete import RoomDeletions

V1 = "/_synapse/admin/v1/rooms"
V2 = "/_synapse/admin/v2/rooms"


class BlockBody(WireModel):
    block: StrictBool


class DeleteBody(WireModel):
    block: StrictBool = False
    purge: StrictBool = True
    force_purge: StrictBool = False
    new_room_user_id: StrictStr | None = None
    room_name: StrictStr | None = None
    message: StrictStr | None = None


async def _delete_body(request: web.Request) -> DeleteBody:
    body = parse(DeleteBody, await json_body(request))
    if body.new_room_user_id is not None:
        raise invalid_param("Moving the members to a new room is not supported by this server")
    return body


def _optional_bool(request: web.Request, name: str) -> bool | None:
    return bool_param(request, name) if name in request.query else None


class RoomAdminHandlers:
    def __init__(
        self, admin: RoomAdmin, deletions: RoomDeletions, is_admin: Callable[[str], bool]
    ) -> None:
        self._admin = admin
        self._deletions = deletions
        self._is_admin = is_admin

    async def list_rooms(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        paging = page(request)
        query = RoomQuery(
            start=paging.start,
            limit=paging.limit,
            order_by=request.query.get("order_by", "name"),
            backwards=paging.backwards,
            search_term=request.query.get("search_term"),
            public_rooms=_optional_bool(request, "public_rooms"),
            empty_rooms=_optional_bool(request, "empty_rooms"),
        )
        return web.json_response(self._admin.list_rooms(query))

    async def details(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        return web.json_response(self._admin.details(room_id(request)))

    async def members(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        return web.json_response(self._admin.members(room_id(request)))

    async def state(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        return web.json_response(self._admin.state(room_id(request), request.query.get("type")))

    async def get_block(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        return web.json_response(self._admin.blocked(room_id(request)))

    async def put_block(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        target = room_id(request)
        body = parse(BlockBody, await json_body(request))
        return web.json_response(self._admin.set_blocked(target, body.block))

    async def delete_v1(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        target = room_id(request)
        body = await _delete_body(request)
        done = await self._deletions.delete_v1(
            target, block=body.block, purge=body.purge, force_purge=body.force_purge
        )
        return web.json_response(done.to_json())

    async def delete_v2(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        target = room_id(request)
        body = await _delete_body(request)
        delete_id = await self._deletions.delete_v2(
            target, block=body.block, purge=body.purge, force_purge=body.force_purge
        )
        return web.json_response({"delete_id": delete_id})

    async def statuses(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        return web.json_response(self._deletions.statuses(room_id(request)))

    async def status(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        return web.json_response(self._deletions.status(request.match_info["delete_id"]))

    def routes(self) -> list[Route]:
        token = Auth.ACCESS_TOKEN
        room = "{room_id}"
        return [
            Route("GET", (V1,), self.list_rooms, token),
            Route("GET", (f"{V1}/{room}",), self.details, token),
            Route("GET", (f"{V1}/{room}/members",), self.members, token),
            Route("GET", (f"{V1}/{room}/state",), self.state, token),
            Route("GET", (f"{V1}/{room}/block",), self.get_block, token),
            Route("PUT", (f"{V1}/{room}/block",), self.put_block, token),
            Route("DELETE", (f"{V1}/{room}",), self.delete_v1, token),
            Route("DELETE", (f"{V2}/{room}",), self.delete_v2, token),
            Route("GET", (f"{V2}/{room}/delete_status",), self.statuses, token),
            Route("GET", (f"{V2}/delete_status/{{delete_id}}",), self.status, token),
        ]
