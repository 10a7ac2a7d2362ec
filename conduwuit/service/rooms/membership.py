"""Membership changes by local users (client-server API "Room membership"):
join (by ID or alias, restricted joins), knock, invite, leave, kick, ban, unban,
forget. Each is one member event through the event pipeline; the checks here are
the ones the spec asks of the server beyond the auth rules, made before writing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from conduwuit.core.errors import (
    ErrCode,
    MatrixError,
    bad_json,
    federation_unavailable,
    forbidden,
    invalid_param,
    not_found,
)
from conduwuit.core.event_types import EventType
from conduwuit.core.ids import RoomAlias, RoomId, UserId, server_of
from conduwuit.core.membership import IN_ROOM, MEMBERSHIPS, MembershipState
from conduwuit.core.power_levels import CREATE_KEY, POWER_LEVELS_KEY, PowerLevels
from conduwuit.service.rooms.actions import RoomActions
from conduwuit.service.rooms.build import NewEvent
from conduwuit.service.rooms.join_policy import JoinPolicy
from conduwuit.service.rooms.out_of_band import own_member_event

# Set by the server that vouches for a restricted join, never taken from a client.
AUTHORISING_USER = "join_authorised_via_users_server"


class RemoteRooms(Protocol):
    """Joins through other servers (``service.federation.joins.RemoteJoins``)."""

    async def resolve_alias(self, alias: str, server: str) -> tuple[str, list[str]]: ...

    async def join(
        self,
        user_id: str,
        room_id: str,
        servers: Sequence[str],
        content: dict[str, Any],
        *,
        resident: bool = False,
    ) -> str: ...


class RemoteChanges(Protocol):
    """Knocks and leaves through other servers
    (``service.federation.remote_membership.RemoteMembership``)."""

    async def knock(
        self, user_id: str, room_id: str, servers: Sequence[str], content: dict[str, Any]
    ) -> str: ...

    async def leave(
        self,
        user_id: str,
        room_id: str,
        servers: Sequence[str],
        content: dict[str, Any],
        shown: Sequence[dict[str, Any]],
    ) -> str: ...


#: ``(user, room_id, current membership)``; raises a MatrixError to refuse the leave.
LeaveGuard = Callable[[UserId, str, str | None], None]


class Membership:
    def __init__(self, actions: RoomActions, policy: JoinPolicy) -> None:
        self.actions = actions
        self.storage = actions.storage
        self.policy = policy
        #: Set by the composition root once federation exists; None: refused clearly.
        self.remote: RemoteRooms | None = None
        self.remote_changes: RemoteChanges | None = None
        #: Checks of a user's own leave (or rejected invite) that the user asked for;
        #: each raises to refuse it (the server notices room's invite). Leaves the
        #: server makes (deactivation, a banned room) skip them.
        self.leave_guards: list[LeaveGuard] = []

    def _current(self, user: UserId | str, room_id: str) -> str | None:
        return self.storage.member_index.membership(str(user), room_id)

    # -- rooms this server cannot act in alone ----------------------------------------
    def _local(self, user_id: str) -> bool:
        return server_of(user_id) == self.actions.config.server_name

    def is_resident(self, room_id: str) -> bool:
        """A local user is joined: this server has the room's current state."""
        return any(self._local(m) for m in self.storage.member_index.members(room_id))

    def needs_federation(self, room_id: str) -> bool:
        """Changing membership here needs another server (make_join, send_leave...):
        the room is unknown, or no local user is joined and other servers' users are
        or were in it (our copy of its state may be stale). A room only local users
        were ever in stays local."""
        if not self.storage.state.exists(room_id):
            return True
        if self.is_resident(room_id):
            return False
        index = self.storage.member_index
        return any(
            not self._local(member)
            for membership in MEMBERSHIPS
            for member in index.members(room_id, membership)
        )

    async def _member_event(
        self, sender: UserId, room_id: str, target: str, content: dict[str, Any]
    ) -> str:
        new = NewEvent(EventType.MEMBER, content, target)
        countersign = None
        if self.actions.is_remote_invite(new):
            countersign = self.actions.remote_invite
            if countersign is None:
                # The invitee's server must sign the invite (PUT /invite/v2).
                raise federation_unavailable("Inviting users of other servers")
        return await self.actions.send_new(sender, room_id, new, countersign=countersign)

    @staticmethod
    def _with_reason(
        content: dict[str, Any], reason: str | None, extra: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """``content`` with the client's extra keys (the state API's content), whose
        membership and authorising user the server decides."""
        for name, value in (extra or {}).items():
            if name not in ("membership", AUTHORISING_USER):
                content[name] = value
        if reason is not None:
            content["reason"] = reason
        return content

    # -- the state API ---------------------------------------------------------------
    async def set_member_state(
        self, sender: UserId, room_id: RoomId, state_key: str, content: Mapping[str, Any]
    ) -> str:
        """``PUT /rooms/{id}/state/m.room.member/{user}``: the same checks as the
        membership endpoints, chosen by the requested membership (Synapse routes these
        through its membership handler too). Returns the new member event's ID."""
        membership = content.get("membership")
        if membership not in MEMBERSHIPS:
            raise bad_json(f"Invalid membership {membership!r}")
        try:
            target = UserId.parse(state_key)
        except ValueError as exc:
            raise bad_json(f"Invalid member state_key: {exc}") from None
        room = str(room_id)
        current = self._current(target, room)
        if membership != MembershipState.KNOCK and not (
            target == sender and membership == MembershipState.LEAVE and current in IN_ROOM
        ):
            self.actions.room_version(room)  # 404 for a room this server does not know
        if membership == MembershipState.JOIN:
            if target != sender:
                raise forbidden("You cannot make another user join a room")
            return await self._join(sender, room, None, self.actions.is_guest(str(sender)), content)
        if membership == MembershipState.KNOCK:
            if target != sender:
                raise forbidden("You cannot knock on behalf of another user")
            return await self._knock(sender, room, None, content)
        if membership == MembershipState.INVITE:
            return await self.invite(sender, room_id, target, extra=content)
        if membership == MembershipState.BAN:
            return await self.ban(sender, room_id, target, extra=content)
        if target == sender:
            if current not in IN_ROOM:
                raise forbidden("You are not in this room")
            self._check_leave(sender, room, current)
            return await self._leave(
                sender,
                room,
                current,
                self._with_reason({"membership": MembershipState.LEAVE}, None, content),
            )
        if current == MembershipState.BAN:
            return await self.unban(sender, room_id, target, extra=content)
        return await self.kick(sender, room_id, target, extra=content)

    def resolve_room(self, room_id_or_alias: str, via: tuple[str, ...] = ()) -> str:
        """A room ID, or the room of a local alias. Another server's alias, or a room
        this server does not know that another server may (its ID's server, ``via``),
        needs federation: refused clearly until remote joins exist."""
        server = self.actions.config.server_name
        if room_id_or_alias.startswith("#"):
            try:
                alias = RoomAlias.parse(room_id_or_alias)
            except ValueError as exc:
                raise invalid_param(f"Invalid alias: {exc}") from None
            if str(alias.server_name) != server:
                raise federation_unavailable("Joining a room by another server's alias")
            room_id = self.actions.aliases.resolve(alias)
            if room_id is None:
                raise not_found("Room alias not found")
            return room_id
        try:
            parsed = RoomId.parse(room_id_or_alias)
        except ValueError as exc:
            raise invalid_param(f"Invalid room ID: {exc}") from None
        if not self.storage.state.exists(room_id_or_alias):
            domain = str(parsed.server_name) if parsed.server_name is not None else None
            if any(s != server for s in via) or (domain is not None and domain != server):
                raise federation_unavailable("Joining a room on another server")
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
        extra: Mapping[str, Any] | None = None,
        via: tuple[str, ...] = (),
    ) -> str:
        """``via``: the servers the client named (``server_name``/``via``).
        ``extra``: the client's other keys of the join body, which go into the member
        event's content as in Synapse (which passes the whole body on as content)."""
        # Before asking anyone about it: a forbidden server's alias or room ID.
        await self.policy.check_join(str(user), room_id_or_alias, room_id_or_alias)
        room_id, servers = await self._locate(room_id_or_alias, via)
        if self._current(user, room_id) == MembershipState.JOIN:
            return room_id  # already joined: no new event, like conduwuit
        await self.policy.check_join(str(user), room_id_or_alias, room_id)
        await self._join(user, room_id, reason, guest, extra, servers)
        return room_id

    def is_joined_to(self, user: UserId, room_id_or_alias: str) -> bool:
        """Whether ``user`` is joined to the room (a local alias's, or by ID); never
        asks another server and never raises."""
        target: str | None = room_id_or_alias
        if room_id_or_alias.startswith("#"):
            try:
                target = self.actions.aliases.resolve(RoomAlias.parse(room_id_or_alias))
            except ValueError:
                return False
        return target is not None and self.storage.member_index.is_joined(str(user), target)

    async def _locate(self, room_id_or_alias: str, via: tuple[str, ...]) -> tuple[str, list[str]]:
        """The room to join and the servers that may let us in (only used when this
        server is not in it): ``via``, then an alias's servers."""
        if room_id_or_alias.startswith("#"):
            try:
                alias = RoomAlias.parse(room_id_or_alias)
            except ValueError as exc:
                raise invalid_param(f"Invalid alias: {exc}") from None
            server = str(alias.server_name)
            if server != self.actions.config.server_name:
                if self.remote is None:
                    raise federation_unavailable("Joining a room by another server's alias")
                room_id, servers = await self.remote.resolve_alias(str(alias), server)
                return room_id, [*via, *servers]
        if self.remote is None:
            return self.resolve_room(room_id_or_alias, via), list(via)
        room_id = self.resolve_room_or_remote(room_id_or_alias, via)
        return room_id, list(via)

    def resolve_room_or_remote(self, room_id_or_alias: str, via: tuple[str, ...]) -> str:
        """``resolve_room``, except that an unknown room another server may know is
        returned (to be joined through it) rather than refused."""
        try:
            return self.resolve_room(room_id_or_alias, via)
        except MatrixError as exc:
            if exc.status != 502 or room_id_or_alias.startswith("#"):
                raise
            return room_id_or_alias

    def _servers_for(self, user: UserId, room_id: str, named: Sequence[str]) -> list[str]:
        """Where to join a room from. The servers the client named, then the server of
        the user's inviter (Synapse's ``_get_inviter``). Only when the client named none
        (conduwuit's fallback): the room ID's server (v1-v11 IDs), then servers of other
        members our possibly stale state knows. Synapse tries only the named servers
        and the inviter's: a room ID's server need not be in the room, and a client
        naming servers may mean to be refused when none of them can let it in
        (Complement ``TestRestrictedRoomsRemoteJoinFailOver``)."""
        servers = list(named)
        found = self.storage.member_index.get(str(user), room_id)
        if found is not None and found.membership == MembershipState.INVITE:
            invite = own_member_event(found.stripped_state or [], str(user))
            inviter = invite.get("sender") if invite is not None else None
            if isinstance(inviter, str) and ":" in inviter:
                servers.append(server_of(inviter))
        if not named:
            if ":" in room_id:
                servers.append(server_of(room_id))
            index = self.storage.member_index
            servers.extend(server_of(m) for m in index.members(room_id))
        return list(dict.fromkeys(s for s in servers if s != self.actions.config.server_name))

    async def _join(
        self,
        user: UserId,
        room_id: str,
        reason: str | None,
        guest: bool,
        extra: Mapping[str, Any] | None = None,
        servers: Sequence[str] = (),
    ) -> str:
        if self._current(user, room_id) == MembershipState.JOIN:
            # A joined user changing their member event (a per-room name): the auth
            # rules allow join -> join, and no join checks apply.
            content = self._with_reason({"membership": MembershipState.JOIN}, reason, extra)
            return await self._member_event(user, room_id, str(user), content)
        await self.policy.check_join(str(user), room_id, room_id)
        if self.needs_federation(room_id):
            return await self._remote_join(
                user, room_id, reason, extra, self._servers_for(user, room_id, servers)
            )
        inviters = self._restricted_inviters(user, room_id)
        if inviters and not any(self._local(m) for m in inviters):
            # Synapse's ``_should_perform_remote_join`` (the spec leaves it open): no
            # local member may vouch for a restricted join, so a server whose member
            # can signs it through make_join/send_join, although this server is in
            # the room.
            resident = list(dict.fromkeys(server_of(m) for m in inviters))
            return await self._remote_join(user, room_id, reason, extra, resident, resident=True)
        if guest:
            state = self.storage.state
            access = state.content_at(state.current_hash(room_id), EventType.GUEST_ACCESS) or {}
            if access.get("guest_access") != "can_join":
                raise MatrixError(ErrCode.GUEST_ACCESS_FORBIDDEN, "Guest access not allowed")
        content = self._with_reason(
            {"membership": MembershipState.JOIN, **self.actions.profile(str(user))}, reason, extra
        )
        authoriser = self.restricted_authoriser(user, room_id)
        if authoriser is not None:
            content[AUTHORISING_USER] = authoriser
        return await self._member_event(user, room_id, str(user), content)

    async def _remote_join(
        self,
        user: UserId,
        room_id: str,
        reason: str | None,
        extra: Mapping[str, Any] | None,
        servers: Sequence[str],
        *,
        resident: bool = False,
    ) -> str:
        if self.remote is None:
            raise federation_unavailable("Joining a room this server is not in")
        content = self._with_reason(
            {"membership": MembershipState.JOIN, **self.actions.profile(str(user))}, reason, extra
        )
        return await self.remote.join(str(user), room_id, servers, content, resident=resident)

    def _restricted_inviters(self, user: UserId, room_id: str) -> list[str]:
        """The joined members who may invite, when a restricted join rule applies to
        ``user``'s join (not invited); otherwise none."""
        if self._restricted_rules(user, room_id) is None:
            return []
        return self._inviters(room_id)

    def _restricted_rules(self, user: UserId, room_id: str) -> dict[str, Any] | None:
        """The join rules' content when a restricted rule applies to ``user``'s join."""
        rv = self.actions.room_version(room_id)
        state = self.storage.state
        rules = state.content_at(state.current_hash(room_id), EventType.JOIN_RULES) or {}
        join_rule = rules.get("join_rule")
        restricted = (join_rule == "restricted" and rv.restricted_join_rule) or (
            join_rule == "knock_restricted" and rv.knock_restricted_join_rule
        )
        if not restricted or self._current(user, room_id) == MembershipState.INVITE:
            return None
        return rules

    def _inviters(self, room_id: str) -> list[str]:
        """The room's joined members whose power level reaches ``invite``."""
        rv = self.actions.room_version(room_id)
        state = self.storage.state
        auth = state.auth_state(state.current_hash(room_id), [CREATE_KEY, POWER_LEVELS_KEY], rv)
        levels = PowerLevels(auth, rv)
        invite_level = levels.named_level("invite")
        return [
            member
            for member in self.storage.member_index.members(room_id, MembershipState.JOIN)
            if levels.user_level(member) >= invite_level
        ]

    def restricted_authoriser(self, user: UserId, room_id: str) -> str | None:
        """rooms/v8 restricted joins: if the user is not invited, they must be joined to
        a room in the allow list, and a local member who may invite vouches for them."""
        rules = self._restricted_rules(user, room_id)
        if rules is None:
            return None
        allow = rules.get("allow")
        allowed_rooms = [
            r
            for a in (allow if isinstance(allow, list) else [])
            if isinstance(a, dict)
            and a.get("type") == "m.room_membership"
            and isinstance(r := a.get("room_id"), str)
        ]
        # Another server's user is judged only by rooms this server is in: the state
        # of a room it left is stale (Synapse drops it), and the spec has the resident
        # answer M_UNABLE_TO_AUTHORISE_JOIN when it cannot validate any condition, so
        # the joining server tries another.
        known = [r for r in allowed_rooms if self._local(str(user)) or self.is_resident(r)]
        if not any(self.storage.member_index.is_joined(str(user), r) for r in known):
            if allowed_rooms and not known:
                raise MatrixError(
                    ErrCode.UNABLE_TO_AUTHORISE_JOIN,
                    "This server is in none of the rooms that allow joining",
                    status=400,
                )
            raise forbidden("You are not allowed to join this room (restricted)")
        for member in self._inviters(room_id):
            if self._local(member):
                return member
        raise MatrixError(
            ErrCode.UNABLE_TO_GRANT_JOIN, "No local user can authorise this join", status=400
        )

    async def knock(
        self,
        user: UserId,
        room_id_or_alias: str,
        reason: str | None = None,
        via: tuple[str, ...] = (),
    ) -> str:
        if self.remote_changes is None:
            room_id, servers = self.resolve_room(room_id_or_alias, via), list(via)
        else:
            room_id, servers = await self._locate(room_id_or_alias, via)
        await self._knock(user, room_id, reason, servers=servers)
        return room_id

    async def _knock(
        self,
        user: UserId,
        room_id: str,
        reason: str | None,
        extra: Mapping[str, Any] | None = None,
        servers: Sequence[str] = (),
    ) -> str:
        # Banned rooms (the admin room's rooms moderation) refuse knocks as joins.
        await self.policy.check_join(str(user), room_id, room_id)
        current = self._current(user, room_id)
        if current in (MembershipState.JOIN, MembershipState.INVITE, MembershipState.BAN):
            raise forbidden(f"You cannot knock on a room you are {current} in")
        content = self._with_reason(
            {"membership": MembershipState.KNOCK, **self.actions.profile(str(user))}, reason, extra
        )
        if self.needs_federation(room_id):
            # The resident server checks the room version and join rules (make_knock).
            if self.remote_changes is None:
                raise federation_unavailable("Knocking on a room this server is not in")
            return await self.remote_changes.knock(
                str(user), room_id, self._servers_for(user, room_id, servers), content
            )
        if not self.actions.room_version(room_id).knock_join_rule:
            raise forbidden("This room version does not support knocking")
        return await self._member_event(user, room_id, str(user), content)

    # -- changing others' membership ---------------------------------------------------
    # ``extra``: the client's content when the change comes through the state API.
    async def invite(
        self,
        sender: UserId,
        room_id: RoomId,
        target: UserId,
        reason: str | None = None,
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        room = str(room_id)
        self.actions.room_version(room)
        self.policy.check_invite(str(sender), room)
        if not self.actions.may_invite(str(sender)):
            raise forbidden("Invites are not allowed on this server")
        current = self._current(target, room)
        if current == MembershipState.BAN:
            raise forbidden(f"{target} is banned from the room")
        if current == MembershipState.JOIN:
            raise forbidden(f"{target} is already in the room")
        self.actions.check_invite_permission(str(sender), str(target))
        content = self._with_reason(
            {"membership": MembershipState.INVITE, **self.actions.profile(str(target))},
            reason,
            extra,
        )
        return await self._member_event(sender, room, str(target), content)

    async def leave(
        self,
        user: UserId,
        room_id: RoomId,
        reason: str | None = None,
        *,
        by_server: bool = False,
    ) -> None:
        """``by_server``: a leave the server makes for the user (deactivation, a
        banned room), which the leave guards do not refuse."""
        room = str(room_id)
        current = self._current(user, room)
        if current not in IN_ROOM:
            return  # leaving a room one is not in changes nothing (conduwuit)
        if not by_server:
            self._check_leave(user, room, current)
        content = self._with_reason({"membership": MembershipState.LEAVE}, reason)
        await self._leave(user, room, current, content)

    def _check_leave(self, user: UserId, room_id: str, current: str | None) -> None:
        for guard in self.leave_guards:
            guard(user, room_id, current)

    async def _leave(
        self, user: UserId, room_id: str, current: str | None, content: dict[str, Any]
    ) -> str:
        """Rejecting an invite or retracting a knock in a room this server is not in
        goes through another server (make_leave/send_leave); any other leave is a
        member event here, sent on to the room's other servers."""
        if current in (MembershipState.INVITE, MembershipState.KNOCK) and self.needs_federation(
            room_id
        ):
            if self.remote_changes is None:
                raise federation_unavailable("Leaving a room this server is not in")
            found = self.storage.member_index.get(str(user), room_id)
            shown = found.stripped_state if found is not None else None
            return await self.remote_changes.leave(
                str(user), room_id, self._servers_for(user, room_id, ()), content, shown or []
            )
        return await self._member_event(user, room_id, str(user), content)

    async def kick(
        self,
        sender: UserId,
        room_id: RoomId,
        target: UserId,
        reason: str | None = None,
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        room = str(room_id)
        self.actions.room_version(room)
        if self._current(target, room) not in IN_ROOM:
            raise forbidden(f"{target} is not in the room")
        content = self._with_reason({"membership": MembershipState.LEAVE}, reason, extra)
        return await self._member_event(sender, room, str(target), content)

    async def ban(
        self,
        sender: UserId,
        room_id: RoomId,
        target: UserId,
        reason: str | None = None,
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        room = str(room_id)
        self.actions.room_version(room)
        content = self._with_reason({"membership": MembershipState.BAN}, reason, extra)
        return await self._member_event(sender, room, str(target), content)

    async def unban(
        self,
        sender: UserId,
        room_id: RoomId,
        target: UserId,
        reason: str | None = None,
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        room = str(room_id)
        self.actions.room_version(room)
        if self._current(target, room) != MembershipState.BAN:
            raise forbidden(f"{target} is not banned")
        content = self._with_reason({"membership": MembershipState.LEAVE}, reason, extra)
        return await self._member_event(sender, room, str(target), content)

    def forget(self, user: UserId, room_id: RoomId) -> None:
        room = str(room_id)
        current = self._current(user, room)
        if current is None:
            raise not_found("You were never in this room")
        if current in IN_ROOM:
            raise MatrixError(ErrCode.UNKNOWN, "You must leave the room first", status=400)
        with self.storage.db.batch() as b:
            self.storage.member_index.forget(b, str(user), room)
