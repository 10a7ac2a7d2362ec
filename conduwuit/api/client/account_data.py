"""Account data: GET/PUT (and DELETE, MSC3391) global and per-room, by type."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.auth import requester
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import canonical_body
from conduwuit.core.errors import ErrCode, MatrixError, forbidden, invalid_param, not_found
from conduwuit.core.event_types import EventType
from conduwuit.service.account_data import GLOBAL, AccountData

#: Types the server controls: 405 M_BAD_JSON on the generic endpoint (account-data.yaml).
SERVER_CONTROLLED = frozenset({EventType.FULLY_READ, EventType.PUSH_RULES})


def _room_id(request: web.Request) -> str:
    room_id = request.match_info.get("room_id", GLOBAL)
    if room_id != GLOBAL and (not room_id.startswith("!") or ":" not in room_id):
        raise invalid_param(f"{room_id} is not a valid room ID.")
    return room_id


class AccountDataHandlers:
    def __init__(self, account_data: AccountData) -> None:
        self.account_data = account_data

    def target(self, request: web.Request) -> tuple[str, str, str]:
        who = requester(request)
        user_id = request.match_info["user_id"]
        if user_id != who.user_id:
            raise forbidden("You cannot access the account data of another user.")
        return user_id, request.match_info["type"], _room_id(request)

    def refuse_server_types(self, event_type: str) -> None:
        if event_type in SERVER_CONTROLLED:
            raise MatrixError(
                ErrCode.BAD_JSON, f"Cannot set {event_type} through this API.", status=405
            )

    async def get(self, request: web.Request) -> web.Response:
        user_id, event_type, room_id = self.target(request)
        content = self.account_data.get(user_id, event_type, room_id)
        if content is None:
            raise not_found("Account data not found.")
        return web.json_response(content)

    async def put(self, request: web.Request) -> web.Response:
        user_id, event_type, room_id = self.target(request)
        self.refuse_server_types(event_type)
        content = await canonical_body(request)
        self.account_data.put(user_id, event_type, content, room_id)
        return web.json_response({})

    async def delete(self, request: web.Request) -> web.Response:
        user_id, event_type, room_id = self.target(request)
        self.refuse_server_types(event_type)
        self.account_data.put(user_id, event_type, {}, room_id)
        return web.json_response({})

    def routes(self) -> list[Route]:
        one = client_paths("/user/{user_id}/account_data/{type}")
        room = client_paths("/user/{user_id}/rooms/{room_id}/account_data/{type}")
        unstable = ("unstable/org.matrix.msc3391",)
        return [
            Route("GET", one, self.get, Auth.ACCESS_TOKEN),
            Route("PUT", one, self.put, Auth.ACCESS_TOKEN),
            Route("GET", room, self.get, Auth.ACCESS_TOKEN),
            Route("PUT", room, self.put, Auth.ACCESS_TOKEN),
            Route(
                "DELETE",
                client_paths("/user/{user_id}/account_data/{type}", versions=unstable),
                self.delete,
                Auth.ACCESS_TOKEN,
            ),
            Route(
                "DELETE",
                client_paths(
                    "/user/{user_id}/rooms/{room_id}/account_data/{type}", versions=unstable
                ),
                self.delete,
                Auth.ACCESS_TOKEN,
            ),
        ]


def routes(account_data: AccountData) -> list[Route]:
    return AccountDataHandlers(account_data).routes()
