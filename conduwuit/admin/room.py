"""The admin room: created by the server user when the first user registers.

conduwuit's names: the server user is ``@conduit:<server>``, the room's alias
``#admins:<server>`` (the alias is how the room is found again, across restarts).
The server user has no password and no devices, so it cannot log in; it is
created once. Admins are invited, joined and given power 100; the room can never
be made public or world-readable (conduwuit forbids both).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from conduwuit.core.errors import MatrixError, forbidden, invalid_param
from conduwuit.core.event_types import EventType
from conduwuit.core.ids import RoomAlias, RoomId, UserId
from conduwuit.core.membership import MembershipState
from conduwuit.db import Database
from conduwuit.service.rooms.actions import CreateRoom, RoomActions
from conduwuit.service.rooms.membership import Membership
from conduwuit.service.users.accounts import Accounts
from conduwuit.service.users.ids import make_user_id
from conduwuit.service.users.profiles import Profiles

log = logging.getLogger(__name__)

SERVER_USER_LOCALPART = "conduit"
ADMIN_ROOM_ALIAS_LOCALPART = "admins"
ADMIN_ROOM_NAME = "Admin Room"
ADMIN_POWER = 100
#: One above the admins: the power rules let only a higher level demote or kick a
#: user, and the server user must be able to put an ex-admin out of the room.
SERVER_USER_POWER = ADMIN_POWER + 1


class AdminRoom:
    def __init__(
        self,
        db: Database,
        server_name: str,
        accounts: Accounts,
        profiles: Profiles,
        actions: RoomActions,
        membership: Membership,
    ) -> None:
        self._db = db
        self.server_name = server_name
        self._accounts = accounts
        self._profiles = profiles
        self._actions = actions
        self._membership = membership
        self.server_user = UserId.parse(f"@{SERVER_USER_LOCALPART}:{server_name}")
        self.alias = RoomAlias.parse(f"#{ADMIN_ROOM_ALIAS_LOCALPART}:{server_name}")
        self._room_id: str | None = None

    def room_id(self) -> str | None:
        """The admin room's ID, once it exists (found by its alias, then remembered)."""
        if self._room_id is None:
            self._room_id = self._actions.aliases.resolve(self.alias)
        return self._room_id

    def is_admin(self, user_id: str) -> bool:
        return str(user_id) != str(self.server_user) and self._accounts.is_admin(user_id)

    # -- the room's rule --------------------------------------------------------------
    def guard(
        self, room_id: RoomId, event_type: str, state_key: str | None, content: Mapping[str, Any]
    ) -> None:
        """Refuse (403) making the admin room public or its history world-readable."""
        if state_key != "" or str(room_id) != self.room_id():
            return
        if event_type == EventType.JOIN_RULES and content.get("join_rule") == "public":
            raise forbidden("The admin room cannot be made public")
        if (
            event_type == EventType.HISTORY_VISIBILITY
            and content.get("history_visibility") == "world_readable"
        ):
            raise forbidden("The admin room cannot be made world-readable")

    # -- creation ---------------------------------------------------------------------
    def _ensure_server_user(self) -> None:
        """Create ``@conduit`` once: an admin account with no password (no login)."""
        user_id = make_user_id(SERVER_USER_LOCALPART, self.server_name)
        if self._accounts.exists(user_id):
            return
        with self._db.batch() as b:
            self._accounts.create(b, user_id, None, is_guest=False, admin=True)
            self._profiles.stage(b, user_id, {"displayname": SERVER_USER_LOCALPART})

    async def ensure(self, first_admin: str | None = None) -> str:
        """The admin room, created (with the server user) if it does not exist yet;
        ``first_admin`` is invited, joined and given power."""
        self._ensure_server_user()
        room_id = self.room_id()
        if room_id is None:
            users: dict[str, int] = {str(self.server_user): SERVER_USER_POWER}
            if first_admin is not None:
                users[first_admin] = ADMIN_POWER
            room_id = await self._actions.create_room(
                self.server_user,
                CreateRoom(
                    preset="private_chat",
                    room_alias_name=ADMIN_ROOM_ALIAS_LOCALPART,
                    name=ADMIN_ROOM_NAME,
                    topic=f"Manage {self.server_name}",
                    creation_content={"m.federate": False},
                    power_level_content_override={"users": users},
                ),
                by_server=True,
            )
            self._room_id = room_id
            log.info("created the admin room %s", room_id)
        if first_admin is not None:
            await self.add_admin(first_admin)
        return room_id

    async def ensure_for_existing_admins(self) -> None:
        """At start-up: a database whose admins predate the admin room gets the room,
        with every active admin brought in (as conduwuit makes it on start)."""
        if self.room_id() is not None:
            return
        admins = [
            user_id
            for user_id, account in self._accounts.all()
            if account.is_admin and not account.deactivated and user_id != str(self.server_user)
        ]
        if not admins:
            return
        await self.ensure(admins[0])
        for user_id in admins[1:]:
            await self.add_admin(user_id)

    async def add_admin(self, user_id: str) -> None:
        """Invite, join and give power to a (local) admin in the admin room."""
        room_id = self.room_id()
        if room_id is None:
            return
        user = UserId.parse(user_id)
        members = self._actions.storage.member_index
        if members.membership(user_id, room_id) != MembershipState.JOIN:
            if members.membership(user_id, room_id) != MembershipState.INVITE:
                await self._membership.invite(self.server_user, RoomId.parse(room_id), user)
            await self._membership.join(user, room_id)
        await self._set_power(room_id, user_id, ADMIN_POWER)

    async def remove_admin(self, user_id: str) -> None:
        """Take an ex-admin's power and put them out of the admin room."""
        room_id = self.room_id()
        if room_id is None:
            return
        await self._set_power(room_id, user_id, None)
        members = self._actions.storage.member_index
        if members.membership(user_id, room_id) in (MembershipState.JOIN, MembershipState.INVITE):
            await self._membership.kick(
                self.server_user, RoomId.parse(room_id), UserId.parse(user_id), "No longer an admin"
            )

    async def on_admin_changed(self, user_id: str, admin: bool) -> None:
        """The admin API made an account an admin (brought in) or not (put out)."""
        if admin:
            await self.ensure(user_id)
        else:
            await self.remove_admin(user_id)

    def refuse_shutdown(self, room_id: str) -> None:
        """The admin API cannot delete or block the admin room (nor can ``ban-room``)."""
        if room_id == self.room_id():
            raise invalid_param("The admin room cannot be shut down")

    async def _set_power(self, room_id: str, user_id: str, level: int | None) -> None:
        state = self._actions.storage.state
        content = dict(state.content_at(state.current_hash(room_id), EventType.POWER_LEVELS) or {})
        users = dict(content.get("users") or {})
        if users.get(user_id) == level or (level is None and user_id not in users):
            return
        if level is None:
            users.pop(user_id, None)
        else:
            users[user_id] = level
        content["users"] = users
        await self._actions.send_state(
            self.server_user, RoomId.parse(room_id), EventType.POWER_LEVELS, "", content
        )

    async def on_registered(self, user_id: str) -> None:
        """Registration listener: the first user (made admin) gets the admin room."""
        if not self.is_admin(user_id) or self.room_id() is not None:
            return
        try:
            await self.ensure(user_id)
        except MatrixError as exc:
            log.error("could not create the admin room: %s", exc.message)
