"""Typing, receipts and read markers (client-server API "Typing notifications",
"Receipts", "Fully read markers")."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.client.rooms.params import me, room_id
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import json_body
from conduwuit.core.errors import bad_json, forbidden
from conduwuit.core.event_types import EventType
from conduwuit.service.account_data import AccountData
from conduwuit.service.ratelimit import RateLimits
from conduwuit.service.rooms.receipts import Receipts
from conduwuit.service.rooms.typing import Typing
from conduwuit.service.users.shadow_bans import ShadowBans


class EphemeralHandlers:
    def __init__(
        self,
        typing: Typing,
        receipts: Receipts,
        account_data: AccountData,
        *,
        limits: RateLimits,
        shadow_bans: ShadowBans,
    ) -> None:
        self.typing = typing
        self.shadow_bans = shadow_bans
        self.receipts = receipts
        self.account_data = account_data
        self.limits = limits

    async def put_typing(self, request: web.Request) -> web.Response:
        user = me(request)
        if request.match_info["user_id"] != str(user):
            raise forbidden("You may only set your own typing state")
        body = await json_body(request)
        is_typing = body.get("typing")
        if not isinstance(is_typing, bool):
            raise bad_json("typing must be a boolean")
        timeout = body.get("timeout")
        if timeout is not None and not isinstance(timeout, int):
            raise bad_json("timeout must be an integer")
        self.limits.user(self.limits.typing, str(user))
        if self.shadow_bans.is_banned(str(user)):
            # Synapse: a shadow-banned user's typing answers 200 and reaches nobody.
            return web.json_response({})
        self.typing.set_typing(user, room_id(request), is_typing, timeout)
        return web.json_response({})

    def fully_read(self, user: str, room: str, event_id: str) -> None:
        self.account_data.put(user, EventType.FULLY_READ, {"event_id": event_id}, room)

    async def post_receipt(self, request: web.Request) -> web.Response:
        user, room = me(request), room_id(request)
        body = await json_body(request)
        receipt_type = request.match_info["receipt_type"]
        event_id = request.match_info["event_id"]
        thread_id = body.get("thread_id")
        if thread_id is not None and not isinstance(thread_id, str):
            raise bad_json("thread_id must be a string")
        if receipt_type == EventType.FULLY_READ:
            self.receipts.check_target(user, room, event_id)
            self.fully_read(str(user), str(room), event_id)
        else:
            self.receipts.set_receipt(user, room, receipt_type, event_id, thread_id)
        return web.json_response({})

    async def read_markers(self, request: web.Request) -> web.Response:
        user, room = me(request), room_id(request)
        body = await json_body(request)
        for field in (EventType.FULLY_READ, "m.read", "m.read.private"):
            value = body.get(field)
            if value is not None and not isinstance(value, str):
                raise bad_json(f"{field} must be an event ID")
            if isinstance(value, str):
                self.receipts.check_target(user, room, value)
        if isinstance(body.get(EventType.FULLY_READ), str):
            self.fully_read(str(user), str(room), body[EventType.FULLY_READ])
        for receipt_type in ("m.read", "m.read.private"):
            if isinstance(body.get(receipt_type), str):
                self.receipts.set_receipt(user, room, receipt_type, body[receipt_type])
        return web.json_response({})

    def routes(self) -> list[Route]:
        room = "/rooms/{room_id}"
        token = Auth.ACCESS_TOKEN
        return [
            Route("PUT", client_paths(room + "/typing/{user_id}"), self.put_typing, token),
            Route(
                "POST",
                client_paths(room + "/receipt/{receipt_type}/{event_id}"),
                self.post_receipt,
                token,
            ),
            Route("POST", client_paths(room + "/read_markers"), self.read_markers, token),
        ]


def routes(
    typing: Typing,
    receipts: Receipts,
    account_data: AccountData,
    *,
    limits: RateLimits,
    shadow_bans: ShadowBans,
) -> list[Route]:
    return EphemeralHandlers(
        typing, receipts, account_data, limits=limits, shadow_bans=shadow_bans
    ).routes()
