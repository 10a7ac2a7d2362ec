"""Server notices, as Synapse sends them (its ``server_notices`` config and
``POST /_synapse/admin/v1/send_server_notice``); conduwuit has none.

A server admin sends a user a notice; it arrives, as an event of the server notices
user (``server_notices_mxid_localpart``), in the user's notices room. That room is
created by the notices user on the first notice (private, its name from the config,
the user invited and the room tagged ``m.server_notice`` for them, members at power
-10 so only the notices user speaks: Synapse's ``users_default``) and is the same room
ever after: while the invite is pending, once joined, and after the user left (they
are invited again). The invite cannot be rejected (403
``M_CANNOT_LEAVE_SERVER_NOTICE_ROOM``, Synapse's rule); once joined the user may leave.

The notices user is created like the admin room's server user: no password, so it
cannot log in; it is not an admin account (admins are brought into the admin room).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from conduwuit.core.errors import ErrCode, MatrixError, forbidden, invalid_param, not_found
from conduwuit.core.event_types import EventType
from conduwuit.core.ids import RoomId, UserId
from conduwuit.core.membership import MembershipState
from conduwuit.db import Database
from conduwuit.service.rooms.actions import CreateRoom, RoomActions
from conduwuit.service.rooms.membership import Membership
from conduwuit.service.rooms.transactions import Txn
from conduwuit.service.tags import Tags
from conduwuit.service.users.accounts import Accounts
from conduwuit.service.users.ids import make_user_id
from conduwuit.service.users.profiles import Profiles

log = logging.getLogger(__name__)

#: The room tag of a notices room (spec "Server Notices").
SERVER_NOTICE_TAG = "m.server_notice"
#: Synapse's power level for the room's members: below the default for messages.
MEMBERS_POWER = -10
#: The path that scopes transaction IDs (Txn.path) of notices sent with PUT.
TXN_PATH = "/_synapse/admin/v1/send_server_notice"


@dataclass(frozen=True, slots=True)
class NoticesSettings:
    """The server_notices_* options (Synapse's names, flattened)."""

    localpart: str
    display_name: str | None = None
    avatar_url: str | None = None
    room_name: str = "Server Notices"
    room_topic: str | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """One notice: its recipient, and the event to send them."""

    user_id: str
    content: dict[str, Any]
    event_type: str = EventType.MESSAGE
    state_key: str | None = None


class ServerNotices:
    def __init__(
        self,
        db: Database,
        server_name: str,
        settings: NoticesSettings | None,
        accounts: Accounts,
        profiles: Profiles,
        tags: Tags,
        actions: RoomActions,
        membership: Membership,
    ) -> None:
        self._db = db
        self.server_name = server_name
        self._settings = settings
        self._accounts = accounts
        self._profiles = profiles
        self._tags = tags
        self._actions = actions
        self._membership = membership
        self.user: UserId | None = (
            UserId.parse(f"@{settings.localpart}:{server_name}") if settings else None
        )
        # One notice at a time: two first notices must not make two rooms.
        self._lock = asyncio.Lock()

    # -- the rule on leaving ----------------------------------------------------------
    def guard_leave(self, user: UserId, room_id: str, current: str | None) -> None:
        """Membership leave guard: a pending invite of the notices user cannot be
        rejected (Synapse's room member handler)."""
        if self.user is None or current != MembershipState.INVITE:
            return
        state = self._actions.storage.state
        invite = state.pdu_at(state.current_hash(room_id), EventType.MEMBER, str(user))
        if invite is not None and invite.get("sender") == str(self.user):
            raise MatrixError(
                ErrCode.CANNOT_LEAVE_SERVER_NOTICE_ROOM,
                "You cannot reject the invite to the server notices room",
            )

    # -- sending ----------------------------------------------------------------------
    def check_admin(self, requester: UserId) -> None:
        """403 unless ``requester`` is a server admin (checked before the body is read,
        as Synapse does)."""
        if not self._accounts.is_admin(str(requester)):
            raise forbidden("You are not a server admin")

    async def send(
        self, requester: UserId, device_id: str, notice: Notice, txn_id: str | None = None
    ) -> str:
        """Send ``notice`` for server admin ``requester``; returns the event ID. A
        repeated ``txn_id`` (of the same admin's device) returns the first event's ID."""
        self.check_admin(requester)
        if self.user is None:
            # Synapse answers 400 (M_UNKNOWN) when server notices are off.
            raise MatrixError(
                ErrCode.UNKNOWN, "Server notices are not enabled on this server", status=400
            )
        try:
            target = UserId.parse(notice.user_id)
        except ValueError as exc:
            raise invalid_param(f"Invalid user_id: {exc}") from None
        if str(target.server_name) != self.server_name:
            raise invalid_param("Server notices can only be sent to local users")
        if target == self.user:
            raise invalid_param("Server notices cannot be sent to the server notices user")
        if not self._accounts.exists(str(target)):
            raise not_found("User not found")
        if notice.event_type in (EventType.CREATE, EventType.MEMBER):
            # Refused before the room is made (the send would refuse them after).
            raise invalid_param(f"A server notice cannot be a {notice.event_type} event")
        txn = Txn(str(requester), device_id, TXN_PATH, txn_id) if txn_id is not None else None
        async with self._lock:
            if txn is not None and (done := self._actions.storage.transactions.event_for(txn)):
                return done
            room_id = await self._room_for(target)
            event_id = await self._actions.send(
                self.user,
                RoomId.parse(room_id),
                notice.event_type,
                notice.content,
                notice.state_key,
                txn,
            )
        log.info("sent server notice %s to %s", event_id, target)
        return event_id

    async def _room_for(self, target: UserId) -> str:
        """The user's notices room: found (the user invited again if they left), or
        created with the notices user."""
        assert self.user is not None and self._settings is not None
        self._ensure_user()
        index = self._actions.storage.member_index
        states = (MembershipState.INVITE, MembershipState.JOIN, MembershipState.LEAVE)
        for room in index.rooms_of(str(target), states):
            # The notices user must be joined: a room it was merely invited to is not
            # a notices room (as Synapse).
            if not index.is_joined(str(self.user), room.room_id):
                continue
            if room.membership == MembershipState.LEAVE:
                await self._membership.invite(self.user, RoomId.parse(room.room_id), target)
                self._tags.put(target, RoomId.parse(room.room_id), SERVER_NOTICE_TAG, {})
            return room.room_id
        room_id = await self._actions.create_room(
            self.user,
            CreateRoom(
                preset="private_chat",
                name=self._settings.room_name,
                topic=self._settings.room_topic,
                invite=(target,),
                power_level_content_override={"users_default": MEMBERS_POWER},
            ),
            by_server=True,
        )
        self._tags.put(target, RoomId.parse(room_id), SERVER_NOTICE_TAG, {})
        log.info("created the server notices room %s for %s", room_id, target)
        return room_id

    def _ensure_user(self) -> None:
        """The notices user, created once with no password (it cannot log in); its
        profile follows the config."""
        assert self.user is not None and self._settings is not None
        user_id = make_user_id(self._settings.localpart, self.server_name)
        profile = {"displayname": self._settings.display_name or self._settings.localpart}
        if self._settings.avatar_url is not None:
            profile["avatar_url"] = self._settings.avatar_url
        exists = self._accounts.exists(user_id)
        if exists and self._profiles.get(user_id) == profile:
            return
        with self._db.batch() as b:
            if not exists:
                self._accounts.create(b, user_id, None, is_guest=False, first_admin=False)
            self._profiles.stage(b, user_id, profile)
