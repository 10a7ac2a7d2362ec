"""Membership endpoints (client-server API "Room membership") and member lists."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from conduwuit.api.client.rooms.params import is_guest, me, room_id, user_id
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import canonical_body
from conduwuit.core.errors import ErrCode, MatrixError
from conduwuit.core.ids import UserId
from conduwuit.service.ratelimit import RateLimits
from conduwuit.service.rooms.membership import Membership
from conduwuit.service.rooms.reads import RoomReads


def _reason(body: dict[str, Any]) -> str | None:
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise MatrixError(ErrCode.BAD_JSON, "reason must be a string")
    return reason


def routes(members: Membership, reads: RoomReads, limits: RateLimits) -> list[Route]:
    def charge_join(user: UserId, target: str) -> None:
        """A local join against the joins limit (Synapse's rc_joins.local); joining a
        room one is in already changes nothing and is free, as in Synapse."""
        if not members.core.members.is_joined(str(user), members.resolve_room(target)):
            limits.user(limits.joins, str(user))

    async def join_by_id_or_alias(request: web.Request) -> web.Response:
        body = await canonical_body(request)
        target = request.match_info["room_id_or_alias"]
        charge_join(me(request), target)
        joined = await members.join(me(request), target, _reason(body), guest=is_guest(request))
        return web.json_response({"room_id": joined})

    async def join_by_id(request: web.Request) -> web.Response:
        body = await canonical_body(request)
        charge_join(me(request), str(room_id(request)))
        joined = await members.join(
            me(request), str(room_id(request)), _reason(body), guest=is_guest(request)
        )
        return web.json_response({"room_id": joined})

    async def knock(request: web.Request) -> web.Response:
        body = await canonical_body(request)
        target = request.match_info["room_id_or_alias"]
        knocked = await members.knock(me(request), target, _reason(body))
        return web.json_response({"room_id": knocked})

    async def invite(request: web.Request) -> web.Response:
        body = await canonical_body(request)
        if "user_id" not in body and "id_server" in body:
            raise MatrixError(ErrCode.UNRECOGNIZED, "Third-party invites are not supported")
        if "user_id" not in body:
            raise MatrixError(ErrCode.MISSING_PARAM, "Missing parameter: user_id")
        target = user_id(body["user_id"])
        limits.invite(str(me(request)), str(target))
        await members.invite(me(request), room_id(request), target, _reason(body))
        return web.json_response({})

    def targeted(action: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            body = await canonical_body(request)
            if "user_id" not in body:
                raise MatrixError(ErrCode.MISSING_PARAM, "Missing parameter: user_id")
            target = user_id(body["user_id"])
            await getattr(members, action)(me(request), room_id(request), target, _reason(body))
            return web.json_response({})

        return handler

    async def leave(request: web.Request) -> web.Response:
        body = await canonical_body(request)
        await members.leave(me(request), room_id(request), _reason(body))
        return web.json_response({})

    async def forget(request: web.Request) -> web.Response:
        members.forget(me(request), room_id(request))
        return web.json_response({})

    async def joined_rooms(request: web.Request) -> web.Response:
        return web.json_response({"joined_rooms": reads.joined_rooms(me(request))})

    async def room_members(request: web.Request) -> web.Response:
        chunk = reads.members(
            me(request),
            room_id(request),
            at=request.query.get("at"),
            membership=request.query.get("membership"),
            not_membership=request.query.get("not_membership"),
        )
        return web.json_response({"chunk": chunk})

    async def joined_members(request: web.Request) -> web.Response:
        return web.json_response({"joined": reads.joined_members(me(request), room_id(request))})

    room = "/rooms/{room_id}"
    token = Auth.ACCESS_TOKEN
    return [
        Route("POST", client_paths("/join/{room_id_or_alias}"), join_by_id_or_alias, token),
        Route("POST", client_paths("/knock/{room_id_or_alias}"), knock, token),
        Route("POST", client_paths(room + "/join"), join_by_id, token, allow_guests=True),
        Route("POST", client_paths(room + "/invite"), invite, token),
        Route("POST", client_paths(room + "/leave"), leave, token, allow_guests=True),
        Route("POST", client_paths(room + "/kick"), targeted("kick"), token),
        Route("POST", client_paths(room + "/ban"), targeted("ban"), token),
        Route("POST", client_paths(room + "/unban"), targeted("unban"), token),
        Route("POST", client_paths(room + "/forget"), forget, token),
        Route("GET", client_paths("/joined_rooms"), joined_rooms, token),
        Route("GET", client_paths(room + "/members"), room_members, token, allow_guests=True),
        Route("GET", client_paths(room + "/joined_members"), joined_members, token),
    ]
