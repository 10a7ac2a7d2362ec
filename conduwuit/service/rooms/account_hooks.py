"""What rooms do when accounts change: auto-join after registration
(``auto_join_rooms``), leave every room on deactivation, and carry profile changes
into member events of joined rooms (as conduwuit and Synapse do)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from conduwuit.core.errors import MatrixError
from conduwuit.core.event_types import EventType
from conduwuit.core.ids import RoomId, UserId
from conduwuit.core.membership import IN_ROOM, MembershipState
from conduwuit.db import MAPS
from conduwuit.service.rooms.build import NewEvent
from conduwuit.service.rooms.membership import Membership

log = logging.getLogger(__name__)

PROFILE_FIELDS = ("displayname", "avatar_url")


class AccountHooks:
    def __init__(self, membership: Membership, shadow_banned: Callable[[str], bool]) -> None:
        """``shadow_banned(user_id)``: whether the user's profile changes stay out of
        their member events (Synapse: a shadow-banned user's changes are not sent)."""
        self.membership = membership
        self._shadow_banned = shadow_banned
        self.storage = membership.storage
        self._autojoin = self.storage.db.map(MAPS.userid_autojoin)

    async def on_registered(self, user_id: str) -> None:
        raw = self._autojoin.get(user_id.encode())
        if raw is None:
            return
        user = UserId.parse(user_id)
        for target in json.loads(raw):
            try:
                await self.membership.join(user, str(target))
            except MatrixError as exc:
                log.warning("auto-join of %s to %s failed: %s", user_id, target, exc.message)
        self._autojoin.delete(user_id.encode())

    async def on_deactivated(self, user_id: str) -> None:
        user = UserId.parse(user_id)
        rooms = self.storage.member_index.rooms_of(user_id, IN_ROOM)
        for room in rooms:
            try:
                await self.membership.leave(user, RoomId.parse(room.room_id), by_server=True)
            except MatrixError as exc:
                log.warning("%s could not leave %s: %s", user_id, room.room_id, exc.message)

    async def on_profile_changed(
        self, user_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> None:
        if all(old.get(k) == new.get(k) for k in PROFILE_FIELDS):
            return
        if self._shadow_banned(user_id):
            return
        user = UserId.parse(user_id)
        state = self.storage.state
        for room in self.storage.member_index.rooms_of(user_id, (MembershipState.JOIN,)):
            current = state.content_at(state.current_hash(room.room_id), EventType.MEMBER, user_id)
            content = (
                dict(current) if isinstance(current, dict) else {"membership": MembershipState.JOIN}
            )
            for field in PROFILE_FIELDS:
                if isinstance(new.get(field), str):
                    content[field] = new[field]
                else:
                    content.pop(field, None)
            try:
                await self.membership.actions.send_new(
                    user, room.room_id, NewEvent(EventType.MEMBER, content, user_id)
                )
            except MatrixError as exc:
                log.warning("profile update of %s in %s failed: %s", user_id, room.room_id, exc)
