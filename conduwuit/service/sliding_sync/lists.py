"""Which rooms a sliding sync list holds, in which order (MSC4186 "lists").

Rooms are the user's joins, invites and knocks, bans and kicks, and rooms the user
left since the connection's position (so the client sees the leave; as Synapse's
``filter_membership_for_sync``); forgotten rooms never. A list keeps the rooms that
pass its ``filters`` and orders them by ``bump_stamp``, newest first: the stream
position of the room's last event of a bumping type, or, for a room the user is not
in, of the user's membership event (Synapse sorts the same way).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conduwuit.core.event_types import EventType
from conduwuit.core.membership import MembershipState
from conduwuit.core.room_name import display_name, name_like
from conduwuit.service.account_data import AccountData
from conduwuit.service.notifier import Notifier
from conduwuit.service.rooms.member_index import UserRoom
from conduwuit.service.rooms.storage import RoomStorage
from conduwuit.service.sync.rooms import heroes

if TYPE_CHECKING:  # the request types load with the api's first request
    from conduwuit.service.sliding_sync.config import ListConfig, ListFilters

#: Event types that move a room up the list (MSC4186 "bump_stamp"; Synapse's
#: ``DEFAULT_BUMP_EVENT_TYPES``).
BUMP_EVENT_TYPES = frozenset(
    {
        "m.room.create",
        "m.room.message",
        "m.room.encrypted",
        "m.sticker",
        "m.call.invite",
        "m.poll.start",
        "m.beacon_info",
    }
)
#: Events read back per room at most looking for a bumping one.
MAX_BUMP_SCAN = 500


@dataclass(frozen=True)
class Candidate:
    room: UserRoom
    bump_stamp: int


class RoomFacts:
    """What lists filter and sort rooms on, read from current state (or an invite's
    stripped state), with the bump stamps cached per room until the notifier says the
    room changed."""

    def __init__(self, storage: RoomStorage, account_data: AccountData, notifier: Notifier):
        self.storage = storage
        self.account_data = account_data
        self.notifier = notifier
        self._notified_from = storage.db.current_count()
        #: room -> (position scanned up to, bump stamp found)
        self._bumps: dict[str, tuple[int, int]] = {}

    # -- the user's rooms ----------------------------------------------------------
    def rooms(self, user: str, since: int | None) -> list[UserRoom]:
        members = self.storage.member_index
        out = []
        for room in members.rooms_of(user, ("join", "invite", "knock", "leave", "ban")):
            if room.membership == MembershipState.LEAVE:
                if members.is_forgotten(user, room.room_id):
                    continue
                newly_left = since is not None and room.count > since
                if not newly_left and self._left_by_self(room.room_id, user):
                    continue
            out.append(room)
        return out

    def _left_by_self(self, room_id: str, user: str) -> bool:
        state = self.storage.state
        member = state.pdu_at(state.current_hash(room_id), EventType.MEMBER, user)
        return member is None or member.get("sender") == user

    # -- facts ---------------------------------------------------------------------
    def bump_stamp(self, room: UserRoom, now: int) -> int:
        if room.membership != MembershipState.JOIN:
            return room.count
        cached = self._bumps.get(room.room_id)
        if (
            cached is not None
            and cached[0] <= now
            and cached[0] >= self._notified_from
            and self.notifier.last_change(rooms=[room.room_id]) <= cached[0]
        ):
            return cached[1]
        stamp = self._scan_bump(room, now, cached if cached and cached[0] <= now else None)
        self._bumps[room.room_id] = (now, stamp)
        return stamp

    def _scan_bump(self, room: UserRoom, now: int, cached: tuple[int, int] | None) -> int:
        shortroomid = self.storage.short.room(room.room_id)
        if shortroomid is None:
            return room.count
        oldest = room.count
        for scanned, (count, pdu) in enumerate(
            self.storage.timeline.scan(shortroomid, now + 1, backwards=True)
        ):
            if cached is not None and count <= cached[0]:
                return cached[1]
            if pdu.get("type") in BUMP_EVENT_TYPES:
                return count
            oldest = count
            if scanned >= MAX_BUMP_SCAN:
                break
        return oldest

    def direct_rooms(self, user: str) -> set[str]:
        content = self.account_data.get(user, EventType.DIRECT) or {}
        rooms: set[str] = set()
        for room_ids in content.values():
            if isinstance(room_ids, list):
                rooms.update(r for r in room_ids if isinstance(r, str))
        return rooms

    def is_dm(self, room: UserRoom, user: str, direct: set[str]) -> bool:
        if room.room_id in direct:
            return True
        if room.membership == MembershipState.INVITE:
            # An invite is a DM if the invite says so (``is_direct``), as in Synapse.
            content = self.state_content(room, EventType.MEMBER, user)
            return isinstance(content, dict) and content.get("is_direct") is True
        return False

    def state_content(self, room: UserRoom, event_type: str, state_key: str = "") -> Any:
        if room.membership in (MembershipState.INVITE, MembershipState.KNOCK):
            # What the invite carried, else what this server knows of the room.
            for event in room.stripped_state or []:
                if event.get("type") == event_type and event.get("state_key") == state_key:
                    return event.get("content")
        state = self.storage.state
        return state.content_at(state.current_hash(room.room_id), event_type, state_key)

    def display_name(self, room: UserRoom, user: str) -> str:
        """The room's computed name as ``user`` sees it (``conduwuit.core.room_name``):
        for an invite or knock from its stripped state, whose other members are the
        heroes; else from current state and the room summary's heroes."""
        if room.membership in (MembershipState.INVITE, MembershipState.KNOCK):
            members = [
                event
                for event in room.stripped_state or []
                if isinstance(event, dict)
                and event.get("type") == EventType.MEMBER
                and event.get("state_key") != user
            ]
            names = [_member_name(e.get("content"), str(e.get("state_key"))) for e in members]
        else:
            names = [
                _member_name(self.state_content(room, EventType.MEMBER, hero), hero)
                for hero in heroes(self.storage.member_index, room.room_id, user)
            ]
        return display_name(
            self.state_content(room, EventType.NAME),
            self.state_content(room, EventType.CANONICAL_ALIAS),
            names,
        )

    def room_type(self, room: UserRoom) -> str | None:
        content = self.state_content(room, EventType.CREATE)
        kind = content.get("type") if isinstance(content, dict) else None
        return kind if isinstance(kind, str) else None

    def space_children(self, space_id: str) -> set[str]:
        state = self.storage.state
        children = state.state_ids_of_type(state.current_hash(space_id), "m.space.child")
        out = set()
        for child in children:
            content = state.content_at(state.current_hash(space_id), "m.space.child", child)
            if isinstance(content, dict) and content.get("via"):
                out.add(child)
        return out

    def tags(self, user: str, room_id: str) -> set[str]:
        tags = (self.account_data.get(user, "m.tag", room_id) or {}).get("tags")
        return set(tags) if isinstance(tags, dict) else set()


def select(
    facts: RoomFacts, user: str, rooms: Iterable[UserRoom], config: ListConfig, now: int
) -> list[Candidate]:
    """The rooms of one list that pass its filters, newest bump first."""
    filters = config.filters
    direct = facts.direct_rooms(user) if filters.is_dm is not None else set()
    spaces = _space_rooms(facts, user, filters)
    kept = []
    for room in rooms:
        if _passes(facts, user, room, filters, direct, spaces):
            kept.append(Candidate(room, facts.bump_stamp(room, now)))
    kept.sort(key=lambda c: (c.bump_stamp, c.room.room_id), reverse=True)
    return kept


def in_ranges(candidates: list[Candidate], ranges: Iterable[tuple[int, int]]) -> list[Candidate]:
    """The candidates at the (inclusive) ``ranges``' indexes, each once, in list order."""
    wanted: set[int] = set()
    for start, end in ranges:
        wanted.update(range(start, min(end, len(candidates) - 1) + 1))
    return [c for i, c in enumerate(candidates) if i in wanted]


def _space_rooms(facts: RoomFacts, user: str, filters: ListFilters) -> set[str] | None:
    if filters.spaces is None:
        return None
    out: set[str] = set()
    members = facts.storage.member_index
    for space in filters.spaces:
        # Only spaces the user is in say what their children are (as Synapse).
        if members.membership(user, space) == MembershipState.JOIN:
            out |= facts.space_children(space)
    return out


def _passes(
    facts: RoomFacts,
    user: str,
    room: UserRoom,
    filters: ListFilters,
    direct: set[str],
    spaces: set[str] | None,
) -> bool:
    if filters.is_invite is not None and (room.membership == "invite") != filters.is_invite:
        return False
    if filters.is_dm is not None and facts.is_dm(room, user, direct) != filters.is_dm:
        return False
    if filters.is_encrypted is not None:
        encrypted = facts.state_content(room, EventType.ENCRYPTION) is not None
        if encrypted != filters.is_encrypted:
            return False
    if filters.room_types is not None or filters.not_room_types:
        kind = facts.room_type(room)
        if kind in filters.not_room_types:
            return False
        if filters.room_types is not None and kind not in filters.room_types:
            return False
    if spaces is not None and room.room_id not in spaces:
        return False
    if filters.room_name_like is not None:
        if not name_like(filters.room_name_like, facts.display_name(room, user)):
            return False
    if filters.tags is not None or filters.not_tags:
        tags = facts.tags(user, room.room_id)
        if tags & set(filters.not_tags):
            return False
        if filters.tags is not None and not tags & set(filters.tags):
            return False
    return True


def _member_name(content: Any, user_id: str) -> str:
    name = content.get("displayname") if isinstance(content, dict) else None
    return name if isinstance(name, str) and name else user_id
