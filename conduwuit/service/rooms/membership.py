"""Membership changes by local users (client-server API "Room membership"):
join (by ID or alias, restricted joins), knock, invite, leave, kick, ban, unban,
forget. Each is one member event through the event pipeline; the checks here are
the ones the spec asks of the server beyond the auth rules, made before writing.
"""

from __future__ import annotations

from typing import Any

from conduwuit.core.errors import ErrCode, MatrixError, forbidden, not_found
from conduwuit.core.ids import RoomAlias, RoomId, UserId, server_of
from conduwuit.core.power_levels import CREATE_KEY, POWER_LEVELS_KEY, PowerLevels
from conduwuit.service.rooms.build import NewEvent
from conduwuit.service.rooms.ops import RoomOps


class Membership:
    def __init__(self, ops: RoomOps) -> None:
        self.ops = ops
        self.core = ops.core

    def _current(self, user: UserId | str, room_id: str) -> str | None:
        return self.core.members.membership(str(user), room_id)

    async def _member_event(
        self, sender: UserId, room_id: str, target: str, content: dict[str, Any]
    ) -> str:
        new = NewEvent("m.room.member", content, target)
        return await self.ops.send_new(sender, room_id, new)

    @staticmethod
    def _with_reason(content: dict[str, Any], reason: str | None) -> dict[str, Any]:
        if reason is not None:
            content["reason"] = reason
        return content

    def resolve_room(self, room_id_or_alias: str) -> str:
        """A room ID, or the room of a local alias (remote aliases need federation)."""
        if room_id_or_alias.startswith("#"):
            try:
                alias = RoomAlias.parse(room_id_or_alias)
            except ValueError as exc:
                raise MatrixError(ErrCode.INVALID_PARAM, f"Invalid alias: {exc}") from None
            room_id = self.ops.aliases.resolve(alias)
            if room_id is None:
                raise not_found("Room alias not found")
            return room_id
        try:
            RoomId.parse(room_id_or_alias)
        except ValueError as exc:
            raise MatrixError(ErrCode.INVALID_PARAM, f"Invalid room ID: {exc}") from None
        if not self.core.state.exists(room_id_or_alias):
            # Joining remote rooms needs federation (a later issue).
            raise not_found("Room not found")
        return room_id_or_alias

    # -- joining -------------------------------------------------------------------------
    async def join(
        self,
        user: UserId,
        room_id_or_alias: str,
        reason: str | None = None,
        *,
        guest: bool = False,
    ) -> str:
        room_id = self.resolve_room(room_id_or_alias)
        if self._current(user, room_id) == "join":
            return room_id  # already joined: no new event, like conduwuit
        if guest:
            state = self.core.state
            access = state.content_at(state.current_hash(room_id), "m.room.guest_access") or {}
            if access.get("guest_access") != "can_join":
                raise MatrixError(ErrCode.GUEST_ACCESS_FORBIDDEN, "Guest access not allowed")
        content = self._with_reason({"membership": "join", **self.ops.profile(str(user))}, reason)
        authoriser = self._restricted_authoriser(user, room_id)
        if authoriser is not None:
            content["join_authorised_via_users_server"] = authoriser
        await self._member_event(user, room_id, str(user), content)
        return room_id

    def _restricted_authoriser(self, user: UserId, room_id: str) -> str | None:
        """rooms/v8 restricted joins: if the user is not invited, they must be joined to
        a room in the allow list, and a local member who may invite vouches for them."""
        rv = self.ops.room_version(room_id)
        state = self.core.state
        current = state.current_hash(room_id)
        rules = state.content_at(current, "m.room.join_rules") or {}
        join_rule = rules.get("join_rule")
        restricted = (join_rule == "restricted" and rv.restricted_join_rule) or (
            join_rule == "knock_restricted" and rv.knock_restricted_join_rule
        )
        if not restricted or self._current(user, room_id) == "invite":
            return None
        allow = rules.get("allow")
        allowed_rooms = [
            a.get("room_id")
            for a in (allow if isinstance(allow, list) else [])
            if isinstance(a, dict) and a.get("type") == "m.room_membership"
        ]
        if not any(
            isinstance(r, str) and self.core.members.is_joined(str(user), r) for r in allowed_rooms
        ):
            raise forbidden("You are not allowed to join this room (restricted)")
        auth = state.auth_state(current, [CREATE_KEY, POWER_LEVELS_KEY], rv)
        levels = PowerLevels(auth, rv)
        invite_level = levels.named_level("invite")
        for member in self.core.members.members(room_id, "join"):
            if server_of(member) == self.ops.config.server_name and (
                levels.user_level(member) >= invite_level
            ):
                return member
        raise MatrixError(
            ErrCode.UNABLE_TO_GRANT_JOIN, "No local user can authorise this join", status=400
        )

    async def knock(self, user: UserId, room_id_or_alias: str, reason: str | None = None) -> str:
        room_id = self.resolve_room(room_id_or_alias)
        if not self.ops.room_version(room_id).knock_join_rule:
            raise forbidden("This room version does not support knocking")
        current = self._current(user, room_id)
        if current in ("join", "invite", "ban"):
            raise forbidden(f"You cannot knock on a room you are {current} in")
        content = self._with_reason({"membership": "knock", **self.ops.profile(str(user))}, reason)
        await self._member_event(user, room_id, str(user), content)
        return room_id

    # -- changing others' membership ---------------------------------------------------
    async def invite(
        self, sender: UserId, room_id: RoomId, target: UserId, reason: str | None = None
    ) -> None:
        room = str(room_id)
        self.ops.room_version(room)
        current = self._current(target, room)
        if current == "ban":
            raise forbidden(f"{target} is banned from the room")
        if current == "join":
            raise forbidden(f"{target} is already in the room")
        content = {"membership": "invite", **self.ops.profile(str(target))}
        await self._member_event(sender, room, str(target), self._with_reason(content, reason))

    async def leave(self, user: UserId, room_id: RoomId, reason: str | None = None) -> None:
        room = str(room_id)
        if self._current(user, room) not in ("join", "invite", "knock"):
            return  # leaving a room one is not in changes nothing (conduwuit)
        content = self._with_reason({"membership": "leave"}, reason)
        await self._member_event(user, room, str(user), content)

    async def kick(
        self, sender: UserId, room_id: RoomId, target: UserId, reason: str | None = None
    ) -> None:
        room = str(room_id)
        self.ops.room_version(room)
        if self._current(target, room) not in ("join", "invite", "knock"):
            raise forbidden(f"{target} is not in the room")
        content = self._with_reason({"membership": "leave"}, reason)
        await self._member_event(sender, room, str(target), content)

    async def ban(
        self, sender: UserId, room_id: RoomId, target: UserId, reason: str | None = None
    ) -> None:
        room = str(room_id)
        self.ops.room_version(room)
        content = self._with_reason({"membership": "ban"}, reason)
        await self._member_event(sender, room, str(target), content)

    async def unban(
        self, sender: UserId, room_id: RoomId, target: UserId, reason: str | None = None
    ) -> None:
        room = str(room_id)
        self.ops.room_version(room)
        if self._current(target, room) != "ban":
            raise forbidden(f"{target} is not banned")
        content = self._with_reason({"membership": "leave"}, reason)
        await self._member_event(sender, room, str(target), content)

    def forget(self, user: UserId, room_id: RoomId) -> None:
        room = str(room_id)
        current = self._current(user, room)
        if current is None:
            raise not_found("You were never in this room")
        if current in ("join", "invite", "knock"):
            raise MatrixError(ErrCode.UNKNOWN, "You must leave the room first", status=400)
        with self.core.db.batch() as b:
            self.core.members.forget(b, str(user), room)
