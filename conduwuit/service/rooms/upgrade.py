"""Room upgrades (client-server API "Room Upgrades", server behaviour steps 1-6).

Everything that can refuse is checked before the new room exists: the tombstone
power in the old room and the target version. Then the new room is created (its
create event names the predecessor, copies ``type``), with the transferable state
and bans, aliases move over, the tombstone is sent, and the old room's power
levels are raised so it falls quiet. Follows Synapse's ``RoomUpgradeHandler``
where the spec leaves details open (temporary power for the upgrader, bans).
"""

from __future__ import annotations

import logging
from typing import Any

from conduwuit.core.errors import MatrixError, forbidden
from conduwuit.core.event_types import EventType
from conduwuit.core.ids import RoomAlias, RoomId, UserId
from conduwuit.core.membership import MembershipState
from conduwuit.core.power_levels import CREATE_KEY, POWER_LEVELS_KEY, PowerLevels
from conduwuit.core.room_creation import PlannedEvent
from conduwuit.service.rooms.actions import CreateRoom
from conduwuit.service.rooms.build import NewEvent
from conduwuit.service.rooms.membership import Membership

log = logging.getLogger(__name__)

TRANSFERABLE_STATE = (
    EventType.SERVER_ACL,
    EventType.ENCRYPTION,
    EventType.NAME,
    EventType.AVATAR,
    EventType.TOPIC,
    EventType.GUEST_ACCESS,
    EventType.HISTORY_VISIBILITY,
    EventType.JOIN_RULES,
)


class RoomUpgrades:
    def __init__(self, membership: Membership) -> None:
        self.membership = membership
        self.actions = membership.actions
        self.storage = membership.storage

    async def upgrade(
        self, user: UserId, room_id: RoomId, new_version: str, additional_creators: list[str]
    ) -> str:
        old_room = str(room_id)
        old_rv = self.actions.room_version(old_room)
        new_rv = self.actions._version_for_new_room(new_version)
        state = self.storage.state
        current = state.current_hash(old_room)
        auth = state.auth_state(current, [CREATE_KEY, POWER_LEVELS_KEY], old_rv)
        levels = PowerLevels(auth, old_rv)
        if not self.storage.member_index.is_joined(str(user), old_room):
            raise forbidden("You are not in this room")
        tombstone_level = levels.send_level(EventType.TOMBSTONE, True)
        if levels.user_level(str(user)) < tombstone_level:
            raise forbidden("You may not upgrade this room (m.room.tombstone power)")

        create = state.content_at(current, EventType.CREATE) or {}
        last_event = self._last_event_id(old_room)
        creation: dict[str, Any] = {"predecessor": {"room_id": old_room}}
        if last_event is not None:
            creation["predecessor"]["event_id"] = last_event
        for field in ("type", "m.federate"):
            if field in create:
                creation[field] = create[field]
        if new_rv.privileged_creators and additional_creators:
            creation["additional_creators"] = list(additional_creators)
        initial = [
            PlannedEvent(t, dict(content), "")
            for t in TRANSFERABLE_STATE
            if isinstance(content := state.content_at(current, t), dict)
        ]
        old_levels = dict(state.content_at(current, EventType.POWER_LEVELS) or {})
        final_levels = self._levels_for(new_rv.privileged_creators, old_levels, str(user), creation)
        # The upgrader needs enough power to send everything; Synapse gives it for the
        # copy and restores the room's own levels afterwards.
        needed = max([100, *(v for v in _ints(old_levels.get("events", {})).values())])
        working = dict(final_levels)
        if not new_rv.privileged_creators:
            working["users"] = {**final_levels.get("users", {}), str(user): needed}
        new_room = await self.actions.create_room(
            user,
            CreateRoom(
                room_version=new_rv.identifier,
                creation_content=creation,
                initial_state=tuple(initial),
                power_level_content_override=working,
            ),
        )
        new_id = RoomId.parse(new_room)
        if working != final_levels:
            await self.actions.send(user, new_id, EventType.POWER_LEVELS, final_levels, "")
        for banned in self.storage.member_index.members(old_room, MembershipState.BAN):
            await self.membership.ban(user, new_id, UserId.parse(banned))
        await self._move_aliases(user, old_room, new_room, current)
        await self.actions.send(
            user,
            room_id,
            EventType.TOMBSTONE,
            {"body": "This room has been replaced", "replacement_room": new_room},
            "",
        )
        await self._quiet_old_room(user, room_id, old_levels)
        if self.actions.aliases.is_published(old_room):
            self.actions.aliases.set_published(old_room, False)
            self.actions.aliases.set_published(new_room, True)
        return new_room

    def _last_event_id(self, room_id: str) -> str | None:
        shortroomid = self.storage.short.room(room_id)
        if shortroomid is None:
            return None
        for _, pdu in self.storage.timeline.scan(shortroomid, None, backwards=True):
            return str(pdu["event_id"])
        return None

    @staticmethod
    def _levels_for(
        privileged_creators: bool, old: dict[str, Any], user: str, creation: dict[str, Any]
    ) -> dict[str, Any]:
        levels = dict(old)
        if privileged_creators:
            creators = {user, *creation.get("additional_creators", [])}
            users = old.get("users") if isinstance(old.get("users"), dict) else {}
            levels["users"] = {u: v for u, v in (users or {}).items() if u not in creators}
            events = dict(levels.get("events") or {})
            events[EventType.TOMBSTONE] = max(150, int(events.get(EventType.TOMBSTONE, 0) or 0))
            levels["events"] = events
        return levels

    async def _move_aliases(self, user: UserId, old_room: str, new_room: str, current: int) -> None:
        aliases = self.actions.aliases
        for alias in aliases.of_room(old_room):
            parsed = RoomAlias.parse(alias)
            creator = aliases.creator(parsed) or str(user)
            aliases.delete(parsed)
            aliases.put(parsed, new_room, creator)
        canonical = self.storage.state.content_at(current, EventType.CANONICAL_ALIAS)
        if isinstance(canonical, dict) and canonical:
            await self.actions.send(
                user, RoomId.parse(new_room), EventType.CANONICAL_ALIAS, canonical, ""
            )
            try:
                await self.actions.send(
                    user, RoomId.parse(old_room), EventType.CANONICAL_ALIAS, {}, ""
                )
            except MatrixError as exc:  # best effort, as in Synapse
                log.info("could not clear the old room's canonical alias: %s", exc.message)

    async def _quiet_old_room(self, user: UserId, room_id: RoomId, old: dict[str, Any]) -> None:
        users_default = old.get("users_default", 0)
        restricted = max(50, (users_default if isinstance(users_default, int) else 0) + 1)
        levels = dict(old)
        changed = False
        for key in ("events_default", "invite"):
            value = levels.get(key, 0)
            if not isinstance(value, int) or value < restricted:
                levels[key] = restricted
                changed = True
        if changed:
            try:
                await self.actions.send_new(
                    user, str(room_id), NewEvent(EventType.POWER_LEVELS, levels, "")
                )
            except MatrixError as exc:  # "if possible" (step 6)
                log.info("could not restrict the old room's power levels: %s", exc.message)


def _ints(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(v, int) and not isinstance(v, bool)}
