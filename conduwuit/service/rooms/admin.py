"""Rooms as Synapse's admin API shows them (docs/admin_api/rooms.md): the listing
with its orders and search, one room's details, members and state; and shutting a
room down (its local members made to leave, its local aliases and directory entry
removed, optionally blocked), which the admin room's ``rooms moderation ban-room``
does too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from conduwuit.core.admin_listing import order_rows
from conduwuit.core.errors import MatrixError, invalid_param, not_found
from conduwuit.core.event_types import EventType
from conduwuit.core.ids import RoomAlias, RoomId, UserId, server_of
from conduwuit.core.membership import IN_ROOM, MEMBERSHIPS, MembershipState
from conduwuit.service.rooms.aliases import Aliases
from conduwuit.service.rooms.membership import Membership
from conduwuit.service.rooms.metadata import RoomMetadata
from conduwuit.service.rooms.storage import RoomStorage

#: Synapse's ``order_by`` values of the room listing, each to the row field it sorts
#: by (``alphabetical`` and ``size`` are its deprecated spellings).
ROOM_ORDERS = {
    "name": "name",
    "alphabetical": "name",
    "canonical_alias": "canonical_alias",
    "joined_members": "joined_members",
    "size": "joined_members",
    "joined_local_members": "joined_local_members",
    "version": "version",
    "creator": "creator",
    "encryption": "encryption",
    "federatable": "federatable",
    "public": "public",
    "join_rules": "join_rules",
    "guest_access": "guest_access",
    "history_visibility": "history_visibility",
    "state_events": "state_events",
}
#: The orders Synapse sorts largest first (its docs: "Largest to smallest").
LARGEST_FIRST = {"joined_members", "joined_local_members", "version", "state_events"}


@dataclass(frozen=True, slots=True)
class RoomQuery:
    start: int = 0
    limit: int = 100
    order_by: str = "name"
    backwards: bool = False
    search_term: str | None = None
    public_rooms: bool | None = None
    empty_rooms: bool | None = None


@dataclass(slots=True)
class Shutdown:
    """What a shutdown did, in Synapse's ``shutdown_room`` shape."""

    kicked_users: list[str] = field(default_factory=list)
    failed_to_kick_users: list[str] = field(default_factory=list)
    local_aliases: list[str] = field(default_factory=list)
    #: Why each failed user could not be removed (for the admin room's reply).
    failures: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "kicked_users": self.kicked_users,
            "failed_to_kick_users": self.failed_to_kick_users,
            "local_aliases": self.local_aliases,
            # This server does not move the members to a new room.
            "new_room_id": None,
        }


def _version_key(value: str) -> tuple[int, int, str]:
    """Room versions compare as numbers where they are (Synapse casts them)."""
    return (0, int(value), "") if value.isdigit() else (1, 0, value)


class RoomAdmin:
    def __init__(
        self,
        server_name: str,
        storage: RoomStorage,
        aliases: Aliases,
        metadata: RoomMetadata,
        membership: Membership,
        local_devices: Callable[[str], int],
    ) -> None:
        self.server_name = server_name
        self._storage = storage
        self._aliases = aliases
        self._metadata = metadata
        self._membership = membership
        self._local_devices = local_devices
        #: Called with a room ID before it is shut down; raise to refuse (the admin
        #: room cannot be).
        self.shutdown_guards: list[Callable[[str], None]] = []

    def known(self, room_id: RoomId) -> str:
        """A room this server has state for, else 404."""
        rid = str(room_id)
        if not self._storage.state.exists(rid):
            raise not_found("Room not found")
        return rid

    def _local(self, users: Iterable[str]) -> list[str]:
        return [u for u in users if server_of(u) == self.server_name]

    def row(self, room_id: str) -> dict[str, Any]:
        """One room as the listing shows it."""
        state = self._storage.state
        current = state.current_hash(room_id)

        def content(event_type: str) -> dict[str, Any]:
            value = state.content_at(current, event_type)
            return value if isinstance(value, dict) else {}

        create = state.pdu_at(current, EventType.CREATE, "") or {}
        create_content = create.get("content") or {}
        rv = state.room_version(room_id)
        alias = content(EventType.CANONICAL_ALIAS).get("alias")
        members = self._storage.member_index
        return {
            "room_id": room_id,
            "name": content(EventType.NAME).get("name"),
            "canonical_alias": alias if isinstance(alias, str) else None,
            "joined_members": members.count(room_id, MembershipState.JOIN),
            "joined_local_members": len(self._local(members.members(room_id))),
            "version": rv.identifier if rv else str(create_content.get("room_version", "1")),
            "creator": create_content.get("creator", create.get("sender")),
            "encryption": content(EventType.ENCRYPTION).get("algorithm"),
            "federatable": create_content.get("m.federate", True) is not False,
            "public": self._aliases.is_published(room_id),
            "join_rules": content(EventType.JOIN_RULES).get("join_rule"),
            "guest_access": content(EventType.GUEST_ACCESS).get("guest_access"),
            "history_visibility": content(EventType.HISTORY_VISIBILITY).get("history_visibility"),
            "state_events": len(state.state_ids(current)),
            "room_type": create_content.get("type"),
        }

    def list_rooms(self, query: RoomQuery) -> dict[str, Any]:
        column = ROOM_ORDERS.get(query.order_by)
        if column is None:
            raise invalid_param(f"Unknown value for order_by: {query.order_by}")
        rows = []
        for room_id in self._storage.short.room_ids():
            if not self._storage.state.exists(room_id):
                continue
            row = self.row(room_id)
            if query.public_rooms is not None and row["public"] != query.public_rooms:
                continue
            if query.empty_rooms is not None and (row["joined_members"] == 0) != (
                query.empty_rooms
            ):
                continue
            if query.search_term is not None and not self._matches(row, query.search_term):
                continue
            rows.append(row)
        # "Largest first" orders descend on f.
        rows = order_rows(
            rows,
            column,
            descending=(column in LARGEST_FIRST) != query.backwards,
            tie_break="room_id",
            key=_version_key if column == "version" else lambda value: value,
        )
        page = rows[query.start : query.start + query.limit]
        reply: dict[str, Any] = {"rooms": page, "offset": query.start, "total_rooms": len(rows)}
        if query.start + len(page) < len(rows):
            reply["next_batch"] = query.start + len(page)
        if query.start > 0:
            reply["prev_batch"] = max(0, query.start - query.limit)
        return reply

    @staticmethod
    def _matches(row: dict[str, Any], term: str) -> bool:
        """Synapse: the name or the canonical alias's localpart contain the term (any
        case), or the room ID does (case-sensitive)."""
        lowered = term.lower()
        alias = row["canonical_alias"]
        localpart = alias[1:].split(":", 1)[0] if alias else ""
        return (
            lowered in (row["name"] or "").lower()
            or lowered in localpart.lower()
            or term in row["room_id"]
        )

    def details(self, room_id: RoomId) -> dict[str, Any]:
        rid = self.known(room_id)
        state = self._storage.state
        current = state.current_hash(rid)
        topic = (state.content_at(current, EventType.TOPIC) or {}).get("topic")
        avatar = (state.content_at(current, EventType.AVATAR) or {}).get("url")
        members = self._storage.member_index
        joined_local = self._local(members.members(rid))
        every_local = {u for m in MEMBERSHIPS for u in self._local(members.members(rid, m))}
        return {
            **self.row(rid),
            "topic": topic if isinstance(topic, str) else None,
            "avatar": avatar if isinstance(avatar, str) else None,
            "joined_local_devices": sum(self._local_devices(u) for u in joined_local),
            # Synapse: every local user who was in the room has forgotten it.
            "forgotten": bool(every_local)
            and all(members.is_forgotten(u, rid) for u in every_local),
        }

    def members(self, room_id: RoomId) -> dict[str, Any]:
        rid = self.known(room_id)
        joined = sorted(self._storage.member_index.members(rid))
        return {"members": joined, "total": len(joined)}

    def state(self, room_id: RoomId, event_type: str | None) -> dict[str, Any]:
        rid = self.known(room_id)
        state = self._storage.state
        current = state.current_hash(rid)
        events = []
        for (kind, state_key), _ in sorted(state.state_ids(current).items()):
            if event_type is not None and kind != event_type:
                continue
            pdu = state.pdu_at(current, kind, state_key)
            if pdu is not None:
                events.append(pdu)
        return {"state": events}

    # -- blocking and shutting down ------------------------------------------------
    def blocked(self, room_id: RoomId) -> dict[str, Any]:
        """Synapse's ``GET /v1/rooms/{roomId}/block`` (it also names the blocking user;
        the ban mark keeps none)."""
        return {"block": self._metadata.is_banned(str(room_id))}

    def set_blocked(self, room_id: RoomId, block: bool) -> dict[str, Any]:
        """Block or unblock without evicting anyone (Synapse's ``PUT …/block``): the
        ban mark of ``!admin rooms moderation``; the room need not be known here."""
        rid = str(room_id)
        if block:
            self.check_shutdown(rid)
        self._metadata.set_banned(rid, block)
        return {"block": block}

    def check_shutdown(self, room_id: str) -> None:
        """Refuse (raise) a room that may not be shut down (the admin room)."""
        for guard in self.shutdown_guards:
            guard(room_id)

    def exists(self, room_id: str) -> bool:
        return self._storage.state.exists(room_id)

    async def shutdown(self, room_id: str, *, block: bool) -> Shutdown:
        """Block first if asked (nobody gets back in while the others leave), drop the
        local aliases and the directory entry, then make every local member leave."""
        if block:
            self._metadata.set_banned(room_id, True)
        result = Shutdown(local_aliases=self._aliases.of_room(room_id))
        for alias in result.local_aliases:
            self._aliases.delete(RoomAlias.parse(alias))
        self._aliases.set_published(room_id, False)
        index = self._storage.member_index
        local = sorted({u for m in IN_ROOM for u in self._local(index.members(room_id, m))})
        for user in local:
            try:
                await self._membership.leave(
                    UserId.parse(user), RoomId.parse(room_id), by_server=True
                )
            except MatrixError as exc:
                result.failed_to_kick_users.append(user)
                result.failures.append(f"{user}: {exc.message}")
            else:
                result.kicked_users.append(user)
        return result
