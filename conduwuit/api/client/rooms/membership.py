"""Membership endpoints (client-server API "Room membership") and member lists."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from conduwuit.api.client.rooms.params import is_guest, me, room_id, user_id
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import canonical_body
from conduwuit.core.errors import ErrCode, MatrixError, bad_json, invalid_param, missing_param
from conduwuit.core.ids import ServerName, UserId
from conduwuit.service.ratelimit import RateLimits
from conduwuit.service.rooms.history import RoomHistory
from conduwuit.service.rooms.membership import Membership
from conduwuit.service.users.shadow_bans import ShadowBans


def _reason(body: dict[str, Any]) -> str | None:
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise bad_json("reason must be a string")
    return reason


# Keys of a join body that are parameters of the request, not member event content.
_JOIN_PARAMS = ("reason", "third_party_signed", "membership")


def _join_content(body: dict[str, Any]) -> dict[str, Any]:
    """The rest of a join body goes into the member event (Synapse passes the body on as
    the event's content; sytest "POST /join/:room_id can join a room with custom
    content")."""
    return {k: v for k, v in body.items() if k not in _JOIN_PARAMS}


def _via(request: web.Request) -> tuple[str, ...]:
    """The servers to join through: ``via`` (v1.12) and the older ``server_name``."""
    names = [*request.query.getall("via", []), *request.query.getall("server_name", [])]
    out: list[str] = []
    for name in names:
        try:
            parsed = str(ServerName.parse(name))
        except ValueError as exc:
            raise invalid_param(f"Invalid server name {name!r}: {exc}") from None
        if parsed not in out:
            out.append(parsed)
    return tuple(out)


class MembershipHandlers:
    def __init__(
        self,
        members: Membership,
        history: RoomHistory,
        limits: RateLimits,
        shadow_bans: ShadowBans,
    ) -> None:
        self.shadow_bans = shadow_bans
        self.members = members
        self.history = history
        self.limits = limits

    def charge_join(self, user: UserId, target: str) -> None:
        """A join against the joins limit (Synapse's rc_joins.local); joining a room
        one is in already changes nothing and is free, as in Synapse."""
        if not self.members.is_joined_to(user, target):
            self.limits.user(self.limits.joins, str(user))

    async def join_by_id_or_alias(self, request: web.Request) -> web.Response:
        body = await canonical_body(request)
        target = request.match_info["room_id_or_alias"]
        via = _via(request)
        self.charge_join(me(request), target)
        joined = await self.members.join(
            me(request),
            target,
            _reason(body),
            guest=is_guest(request),
            extra=_join_content(body),
            via=via,
        )
        return web.json_response({"room_id": joined})

    async def join_by_id(self, request: web.Request) -> web.Response:
        body = await canonical_body(request)
        self.charge_join(me(request), str(room_id(request)))
        joined = await self.members.join(
            me(request),
            str(room_id(request)),
            _reason(body),
            guest=is_guest(request),
            extra=_join_content(body),
        )
        return web.json_response({"room_id": joined})

    async def knock(self, request: web.Request) -> web.Response:
        body = await canonical_body(request)
        target = request.match_info["room_id_or_alias"]
        knocked = await self.members.knock(me(request), target, _reason(body), _via(request))
        return web.json_response({"room_id": knocked})

    async def invite(self, request: web.Request) -> web.Response:
        body = await canonical_body(request)
        if "user_id" not in body and "id_server" in body:
            raise MatrixError(ErrCode.UNRECOGNIZED, "Third-party invites are not supported")
        if "user_id" not in body:
            raise missing_param("Missing parameter: user_id")
        target = user_id(body["user_id"])
        self.limits.invite(str(me(request)), str(target))
        if self.shadow_bans.is_banned(str(me(request))):
            # Synapse: a shadow-banned user's invite answers 200 and is not sent.
            return web.json_response({})
        await self.members.invite(me(request), room_id(request), target, _reason(body))
        return web.json_response({})

    async def targeted(self, action: str, request: web.Request) -> web.Response:
        body = await canonical_body(request)
        if "user_id" not in body:
            raise missing_param("Missing parameter: user_id")
        target = user_id(body["user_id"])
        await getattr(self.members, action)(me(request), room_id(request), target, _reason(body))
        return web.json_response({})

    async def kick(self, request: web.Request) -> web.Response:
        return await self.targeted("kick", request)

    async def ban(self, request: web.Request) -> web.Response:
        return await self.targeted("ban", request)

    async def unban(self, request: web.Request) -> web.Response:
        return await self.targeted("unban", request)

    async def leave(self, request: web.Request) -> web.Response:
        body = await canonical_body(request)
        await self.members.leave(me(request), room_id(request), _reason(body))
        return web.json_response({})

    async def forget(self, request: web.Request) -> web.Response:
        self.members.forget(me(request), room_id(request))
        return web.json_response({})

    async def joined_rooms(self, request: web.Request) -> web.Response:
        return web.json_response({"joined_rooms": self.history.joined_rooms(me(request))})

    async def room_members(self, request: web.Request) -> web.Response:
        # A room joined with partial state: wait for its full membership (Synapse's
        # /members does; so does /joined_members).
        await self.history.full_state(room_id(request))
        chunk = self.history.members(
            me(request),
            room_id(request),
            at=request.query.get("at"),
            membership=request.query.get("membership"),
            not_membership=request.query.get("not_membership"),
        )
        return web.json_response({"chunk": chunk})

    async def joined_members(self, request: web.Request) -> web.Response:
        await self.history.full_state(room_id(request))
        return web.json_response(
            {"joined": self.history.joined_members(me(request), room_id(request))}
        )

    def routes(self) -> list[Route]:
        room = "/rooms/{room_id}"
        token = Auth.ACCESS_TOKEN
        return [
            Route(
                "POST", client_paths("/join/{room_id_or_alias}"), self.join_by_id_or_alias, token
            ),
            Route("POST", client_paths("/knock/{room_id_or_alias}"), self.knock, token),
            Route("POST", client_paths(room + "/join"), self.join_by_id, token, allow_guests=True),
            Route("POST", client_paths(room + "/invite"), self.invite, token),
            Route("POST", client_paths(room + "/leave"), self.leave, token, allow_guests=True),
            Route("POST", client_paths(room + "/kick"), self.kick, token),
            Route("POST", client_paths(room + "/ban"), self.ban, token),
            Route("POST", client_paths(room + "/unban"), self.unban, token),
            Route("POST", client_paths(room + "/forget"), self.forget, token),
            Route("GET", client_paths("/joined_rooms"), self.joined_rooms, token),
            Route(
                "GET", client_paths(room + "/members"), self.room_members, token, allow_guests=True
            ),
            Route("GET", client_paths(room + "/joined_members"), self.joined_members, token),
        ]


def routes(
    members: Membership, history: RoomHistory, limits: RateLimits, shadow_bans: ShadowBans
) -> list[Route]:
    return MembershipHandlers(members, history, limits, shadow_bans).routes()
