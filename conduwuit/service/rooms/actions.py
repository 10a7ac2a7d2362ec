"""What a local user does to a room that is not about membership: create it, send
messages and state, redact. Every refusal raises before anything is written.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from conduwuit.core import room_creation
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
from conduwuit.core.events import Event
from conduwuit.core.ids import RoomAlias, RoomId, UserId, server_of
from conduwuit.core.invite_permission import InviteRule
from conduwuit.core.membership import MembershipState
from conduwuit.core.power_levels import CREATE_KEY, POWER_LEVELS_KEY, PowerLevels
from conduwuit.core.room_versions import RoomVersion, supported_versions
from conduwuit.core.room_versions import get as get_room_version
from conduwuit.service.rooms.aggregations import check_new_relation
from conduwuit.service.rooms.aliases import Aliases
from conduwuit.service.rooms.build import NewEvent, room_id_of
from conduwuit.service.rooms.pipeline import Countersign
from conduwuit.service.rooms.storage import RoomStorage
from conduwuit.service.rooms.transactions import Txn

# user_id -> {"displayname": ..., "avatar_url": ...} (only the keys that are set)
ProfileLookup = Callable[[str], Mapping[str, Any]]

#: Refuses (raises) a message or state event before it is built: ``(room, type,
#: state key, content)``; the admin room's "never public" rule is one.
SendGuard = Callable[[RoomId, str, "str | None", Mapping[str, Any]], None]


#: The invitee's rule for an inviter (``(invitee, inviter)``, "Invite permission").
InviteRuleLookup = Callable[[str, str], InviteRule]


def no_profile(user_id: str) -> Mapping[str, Any]:
    return {}


def allow_all_invites(invitee: str, inviter: str) -> InviteRule:
    return InviteRule.ALLOW


#: Tries at a free room ID for a version that derives it from the create event.
_ROOM_ID_ATTEMPTS = 5


@dataclass(frozen=True)
class RoomsConfig:
    server_name: str
    default_room_version: str = "11"
    allow_unstable_room_versions: bool = True
    allow_room_creation: bool = True
    forbidden_alias_names: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CreateRoom:
    """A parsed ``POST /createRoom`` body."""

    preset: str | None = None
    visibility: str = "private"
    room_alias_name: str | None = None
    name: str | None = None
    topic: str | None = None
    invite: tuple[UserId, ...] = ()
    is_direct: bool = False
    initial_state: tuple[room_creation.PlannedEvent, ...] = ()
    creation_content: Mapping[str, Any] = field(default_factory=dict)
    power_level_content_override: Mapping[str, Any] | None = None
    room_version: str | None = None
    room_id: str | None = None  # conduwuit's custom room ID (versions 1-11)


class RoomActions:
    def __init__(
        self,
        storage: RoomStorage,
        aliases: Aliases,
        config: RoomsConfig,
        profile: ProfileLookup = no_profile,
        may_publish: Callable[[str], bool] = lambda user_id: True,
        is_guest: Callable[[str], bool] = lambda user_id: False,
        invite_rule: InviteRuleLookup = allow_all_invites,
        is_admin: Callable[[str], bool] = lambda user_id: False,
        may_invite: Callable[[str], bool] = lambda user_id: True,
    ) -> None:
        self.storage = storage
        self.aliases = aliases
        self.config = config
        self.guards: list[SendGuard] = []
        self.profile = profile
        self.may_publish = may_publish
        self.is_guest = is_guest
        self.invite_rule = invite_rule
        self.is_admin = is_admin
        #: conduwuit's block_non_admin_invites: whether a local user may send invites
        #: and receive other servers' invites.
        self.may_invite = may_invite
        #: Invites of other servers' users (their server signs first); set by the
        #: composition root with federation. None: such invites are refused clearly.
        self.remote_invite: Countersign | None = None

    # -- helpers shared with membership and reads ------------------------------------
    def room_version(self, room_id: RoomId | str) -> RoomVersion:
        rv = self.storage.state.room_version(str(room_id))
        if rv is None:
            raise not_found("Room not found")
        return rv

    def _version_for_new_room(self, requested: str | None) -> RoomVersion:
        identifier = requested or self.config.default_room_version
        rv = get_room_version(identifier)
        allowed = supported_versions(self.config.allow_unstable_room_versions)
        if rv is None or identifier not in allowed:
            raise MatrixError(
                ErrCode.UNSUPPORTED_ROOM_VERSION, f"Room version {identifier} is not supported"
            )
        return rv

    async def send_new(
        self,
        sender: UserId,
        room_id: str,
        new: NewEvent,
        txn: Txn | None = None,
        countersign: Countersign | None = None,
    ) -> str:
        rv = self.room_version(room_id)
        event = await self.storage.pipeline.create_local(
            new, str(sender), room_id, rv, txn, countersign=countersign
        )
        if new.timestamp is None:
            await self._past_millisecond(event.origin_server_ts)
        return event.event_id

    async def _past_millisecond(self, stamp: int) -> None:
        """Answer only once the clock has left the millisecond an event was stamped
        with. A client that takes the time after our answer (a date jump's "from
        now on", a Complement test's ``time.Now()``) must not share the event's
        millisecond, or "after this moment" would include the event it just made.
        Waits at most a few milliseconds, outside the room's lock."""
        for _ in range(3):
            if self.storage.clock() > stamp:
                return
            await asyncio.sleep(0.001)

    def is_remote_invite(self, new: NewEvent) -> bool:
        return (
            new.type == EventType.MEMBER
            and new.content.get("membership") == MembershipState.INVITE
            and server_of(new.state_key or "") != self.config.server_name
        )

    def check_invite_permission(self, inviter: str, invitee: str) -> None:
        """Refuse an invite a local invitee blocks (spec v1.18 "Invite permission":
        403 ``M_INVITE_BLOCKED``). An ignored invite goes ahead and /sync hides it;
        another server's user is their server's to refuse (it answers PUT /invite)."""
        if server_of(invitee) != self.config.server_name:
            return
        if self.invite_rule(invitee, inviter) is InviteRule.BLOCK:
            raise MatrixError(
                ErrCode.INVITE_BLOCKED, f"{invitee} does not accept invites from {inviter}"
            )

    # -- room creation ---------------------------------------------------------------
    async def create_room(
        self, creator: UserId, request: CreateRoom, *, by_server: bool = False
    ) -> str:
        """``by_server``: a room the server makes for itself (the admin room), which
        allow_room_creation (about users' rooms) does not stop, nor does it stop
        admins."""
        arrived = self.storage.clock()
        if not (self.config.allow_room_creation or by_server or self.is_admin(str(creator))):
            # conduwuit: "admins are always allowed to create rooms".
            raise forbidden("Room creation has been disabled")
        if request.invite and not self.may_invite(str(creator)):
            raise forbidden("Invites are not allowed on this server")
        rv = self._version_for_new_room(request.room_version)
        if request.visibility == "public" and not self.may_publish(str(creator)):
            # conduwuit's lockdown_public_room_directory: refused before anything is written.
            raise forbidden("Publishing rooms to the room directory is not allowed")
        if self.remote_invite is None and any(
            str(u.server_name) != self.config.server_name for u in request.invite
        ):
            # Their server must sign the invite (PUT /invite): refused before anything
            # is written rather than a room whose invites never arrive.
            raise federation_unavailable("Inviting users of other servers")
        for invitee in request.invite:
            # Refused before anything is written (Synapse refuses the request too,
            # once the room exists).
            self.check_invite_permission(str(creator), str(invitee))
        alias = None
        if request.room_alias_name is not None:
            try:
                alias = RoomAlias.parse(f"#{request.room_alias_name}:{self.config.server_name}")
            except ValueError as exc:
                raise invalid_param(f"Invalid alias: {exc}") from None
            self.aliases.check_may_create(alias, str(creator))
            if self.aliases.resolve(alias) is not None:
                raise MatrixError(ErrCode.ROOM_IN_USE, "Room alias already taken")
        room_id = self._new_room_id(rv, request.room_id)
        plan = room_creation.RoomPlan(
            creator=str(creator),
            room_version=rv,
            preset=request.preset,
            public=request.visibility == "public",
            alias=str(alias) if alias else None,
            name=request.name,
            topic=request.topic,
            invite=tuple(str(u) for u in request.invite if u != creator),
            is_direct=request.is_direct,
            initial_state=request.initial_state,
            creation_content=request.creation_content,
            power_level_content_override=request.power_level_content_override,
            creator_member_content=dict(self.profile(str(creator))),
        )
        planned = room_creation.plan_events(plan)
        room_creation.dry_run(planned, str(creator), rv)
        # The initial events are one act, the room's creation: they all carry its
        # time, so a date jump (/timestamp_to_event) or a client's date separator
        # sees one moment, not a spread that depends on how fast the server wrote them.
        # That moment is after the request's: a client that read its clock just before
        # asking ("nothing before the room's creation") must not share its millisecond.
        await self._past_millisecond(arrived)
        created_at = self.storage.clock()
        events = []
        for event in planned:
            content = dict(event.content)
            if (
                event.type == EventType.MEMBER
                and content.get("membership") == MembershipState.INVITE
            ):
                content.update(self.profile(event.state_key or ""))
            events.append(NewEvent(event.type, content, event.state_key, timestamp=created_at))
        pipeline = self.storage.pipeline
        derived = room_id is None
        if room_id is None:
            # The version derives the room ID from the create event: build that first.
            room_id = room_id_of(await self._create_derived_room(events.pop(0), creator, rv))
        # The initial events go in under one hold of the new room's lock.
        async with self.storage.locks.hold(room_id):
            if not derived and self.storage.short.room(room_id) is not None:
                # A concurrent createRoom took the same custom room ID first.
                raise MatrixError(ErrCode.ROOM_IN_USE, "Room ID already in use")
            # Invites come last: one another server refuses fails the request (as in
            # Synapse) after the room and the earlier invites exist.
            for new in events:
                countersign = self.remote_invite if self.is_remote_invite(new) else None
                await pipeline.create_local(
                    new, str(creator), room_id, rv, held=True, countersign=countersign
                )
        if alias is not None:
            self.aliases.put(alias, room_id, str(creator))
        if request.visibility == "public":
            self.aliases.set_published(room_id, True)
        await self._past_millisecond(created_at)
        return room_id

    async def _create_derived_room(
        self, create: NewEvent, creator: UserId, rv: RoomVersion
    ) -> Event:
        """The create event of a version that derives the room ID from it, persisted
        only under a room ID not taken yet. Its only entropy is ``origin_server_ts``:
        two rooms one user creates in the same millisecond with the same creation
        content would be one room, the second's initial events landing in the first.
        As Synapse does, it is tried again with the time moved 1-10 ms, 5 times."""
        pipeline = self.storage.pipeline
        new = create
        for _ in range(_ROOM_ID_ATTEMPTS):
            room_id = room_id_of(pipeline.builder.build(new, str(creator), None, rv, 0))
            async with self.storage.locks.hold(room_id):
                if self.storage.short.room(room_id) is None:
                    return await pipeline.create_local(new, str(creator), None, rv)
            moved = (create.timestamp or self.storage.clock()) + secrets.randbelow(10) + 1
            new = replace(create, timestamp=moved)
        raise MatrixError(ErrCode.UNKNOWN, "Could not find a free room ID", status=500)

    def _new_room_id(self, rv: RoomVersion, custom: str | None) -> str | None:
        if rv.room_id_from_create_event:
            if custom is not None:
                raise invalid_param("This room version derives its room ID")
            return None
        if custom is None:
            return f"!{secrets.token_urlsafe(18)}:{self.config.server_name}"
        # conduwuit accepts a custom ID or localpart for versions that take one.
        candidate = custom if custom.startswith("!") else f"!{custom}:{self.config.server_name}"
        try:
            parsed = RoomId.parse(candidate)
        except ValueError as exc:
            raise invalid_param(f"Invalid room_id: {exc}") from None
        if str(parsed.server_name) != self.config.server_name:
            raise invalid_param("room_id must be on this server")
        if self.storage.short.room(candidate) is not None:
            raise MatrixError(ErrCode.ROOM_IN_USE, "Room ID already in use")
        return candidate

    # -- sending ---------------------------------------------------------------------
    async def send(
        self,
        sender: UserId,
        room_id: RoomId,
        event_type: str,
        content: dict[str, Any],
        state_key: str | None = None,
        txn: Txn | None = None,
        timestamp: int | None = None,
    ) -> str:
        """Send a message or state event; a repeated transaction returns the same ID.
        ``timestamp``: the origin_server_ts an application service asked for."""
        if txn is not None:
            done = self.storage.transactions.event_for(txn)
            if done is not None:
                return done
        _refuse_unsendable(event_type)
        for guard in self.guards:
            guard(room_id, event_type, state_key, content)
        check_new_relation(self.storage, str(room_id), content)
        if event_type == EventType.CANONICAL_ALIAS and state_key == "":
            self._check_canonical_alias(room_id, content)
        if event_type == EventType.REDACTION:
            target = content.get("redacts")
            if not isinstance(target, str):
                raise bad_json("redacts is required")
            if state_key is None:
                return await self.redact(sender, room_id, target, content, txn)
            # A state event of this type is applied as a redaction of its target too
            # (the event's redacts), so it takes the same power check (as Synapse's
            # check_redaction does for every m.room.redaction event).
            self._check_may_redact(sender, room_id, target)
        event_id = await self.send_new(
            sender, str(room_id), NewEvent(event_type, content, state_key, timestamp=timestamp), txn
        )
        if event_type == EventType.GUEST_ACCESS and content.get("guest_access") != "can_join":
            await self._remove_guests(str(room_id))
        return event_id

    async def _remove_guests(self, room_id: str) -> None:
        """Guest access ended: guests leave (spec "Guest access", server behaviour);
        like Synapse, each leave is sent as the guest's own."""
        for member in list(self.storage.member_index.members(room_id, MembershipState.JOIN)):
            if self.is_guest(member):
                leave = NewEvent(EventType.MEMBER, {"membership": MembershipState.LEAVE}, member)
                await self.send_new(UserId.parse(member), room_id, leave)

    def _check_canonical_alias(self, room_id: RoomId, content: dict[str, Any]) -> None:
        """Synapse's checks: every alias must be valid, and local ones must point here."""
        alt = content.get("alt_aliases", [])
        if not isinstance(alt, list):
            raise bad_json("alt_aliases must be a list")
        aliases = [content["alias"]] if content.get("alias") is not None else []
        for raw in [*aliases, *alt]:
            try:
                alias = RoomAlias.parse(raw) if isinstance(raw, str) else None
            except ValueError:
                alias = None
            if alias is None:
                raise invalid_param(f"Invalid alias {raw!r}")
            if str(alias.server_name) == self.config.server_name and self.aliases.resolve(
                alias
            ) != str(room_id):
                raise MatrixError(ErrCode.BAD_ALIAS, f"{alias} does not point to this room")

    async def send_state(
        self,
        sender: UserId,
        room_id: RoomId,
        event_type: str,
        state_key: str,
        content: dict[str, Any],
        timestamp: int | None = None,
    ) -> str:
        """PUT state. Like Synapse, re-sending the current content from the same sender
        returns the existing event instead of a duplicate."""
        state = self.storage.state
        current = state.pdu_at(state.current_hash(str(room_id)), event_type, state_key)
        if (
            current is not None
            and current.get("sender") == str(sender)
            and current.get("content") == content
            and self.storage.member_index.is_joined(str(sender), str(room_id))
        ):
            return str(current["event_id"])
        return await self.send(sender, room_id, event_type, content, state_key, timestamp=timestamp)

    async def check_send(
        self,
        sender: UserId,
        room_id: RoomId,
        event_type: str,
        content: dict[str, Any],
        state_key: str | None = None,
    ) -> None:
        """Raise what ``send`` would raise if the event were sent now, and write
        nothing: delayed events (MSC4140) are checked when they are scheduled, as
        Synapse does, and again by the pipeline when they are sent."""
        rv = self.room_version(room_id)
        _refuse_unsendable(event_type)
        for guard in self.guards:
            guard(room_id, event_type, state_key, content)
        check_new_relation(self.storage, str(room_id), content)
        if event_type == EventType.CANONICAL_ALIAS and state_key == "":
            self._check_canonical_alias(room_id, content)
        new = NewEvent(event_type, content, state_key)
        if event_type == EventType.REDACTION:
            target = content.get("redacts")
            if not isinstance(target, str):
                raise bad_json("redacts is required")
            self._check_may_redact(sender, room_id, target)
            if state_key is None:
                new = NewEvent(event_type, content, None, redacts=target)
        await self.storage.pipeline.check_local(new, str(sender), str(room_id), rv)

    def _check_may_redact(self, sender: UserId, room_id: RoomId, target_id: str) -> RoomVersion:
        """Others' events need the redact power level (Synapse checks this at send time
        for local users, since the v3+ auth rules do not)."""
        rv = self.room_version(room_id)
        target = self.storage.timeline.get(target_id)
        if target is not None and target.get("room_id") == str(room_id):
            if target.get("sender") != str(sender):
                state = self.storage.state
                auth = state.auth_state(
                    state.current_hash(str(room_id)), [CREATE_KEY, POWER_LEVELS_KEY], rv
                )
                levels = PowerLevels(auth, rv)
                if levels.user_level(str(sender)) < levels.named_level("redact"):
                    raise forbidden("You may not redact other users' events")
        return rv

    async def redact(
        self,
        sender: UserId,
        room_id: RoomId,
        target_id: str,
        content: dict[str, Any],
        txn: Txn | None = None,
    ) -> str:
        """Redact an event (``_check_may_redact`` says who may)."""
        if txn is not None:
            done = self.storage.transactions.event_for(txn)
            if done is not None:
                return done
        rv = self._check_may_redact(sender, room_id, target_id)
        body = {k: v for k, v in content.items() if k != "redacts"}
        new = NewEvent(EventType.REDACTION, body, None, redacts=target_id)
        event = await self.storage.pipeline.create_local(new, str(sender), str(room_id), rv, txn)
        return event.event_id


def _refuse_unsendable(event_type: str) -> None:
    """A room has one create event: another is a malformed request, 400
    M_INVALID_PARAM (Synapse's "Cannot resend m.room.create event"; the spec gives
    400 to malformed requests, 403 to missing permission). Every membership change
    takes the one membership path (Membership, which the state API uses for
    m.room.member too), so its checks cannot be skipped."""
    if event_type == EventType.CREATE:
        raise invalid_param("Cannot resend m.room.create event")
    if event_type == EventType.MEMBER:
        raise forbidden(f"Cannot send {event_type} here")
