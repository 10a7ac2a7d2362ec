"""Membership indexes: the rooms of a user and the members of a room, by membership,
with counts, updated in the same batch as the event that changes them.

Both directions are prefix scans: ``userroomid_membership`` (user, room) and
``roomuserid_membership`` (room, membership, user), so "joined members of a room
with 20,000 members" reads those members only, and "rooms of a user" reads the
user's rooms only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from conduwuit.core.membership import IN_ROOM, MembershipState
from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import SEP, from_u64, key, prefix, u64


@dataclass(frozen=True, slots=True)
class MembershipChange:
    room_id: str
    user_id: str
    membership: str
    count: int
    # Stripped state shown to an invited or knocking user (invite_room_state).
    stripped_state: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class UserRoom:
    room_id: str
    membership: str
    count: int
    stripped_state: list[dict[str, Any]] | None


def _encode(change: MembershipChange) -> bytes:
    value = change.membership.encode() + SEP + u64(change.count)
    if change.stripped_state is not None:
        value += json.dumps(change.stripped_state, separators=(",", ":")).encode()
    return value


def _decode(room_id: str, raw: bytes) -> UserRoom:
    cut = raw.index(SEP)
    membership = raw[:cut].decode()
    count = from_u64(raw[cut + 1 : cut + 9])
    rest = raw[cut + 9 :]
    return UserRoom(room_id, membership, count, json.loads(rest) if rest else None)


#: Told, once the batch is committed, that a user's joined state in a room flipped:
#: ``(user_id, room_id, joined)`` (e2ee device-list tracking listens).
JoinListener = Callable[[str, str, bool], None]


class MemberIndex:
    def __init__(self, db: Database) -> None:
        self.join_listeners: list[JoinListener] = []
        self._user_rooms = db.map(MAPS.userroomid_membership)
        self._room_users = db.map(MAPS.roomuserid_membership)
        self._counts = db.map(MAPS.roomid_membercount)
        self._forgotten = db.map(MAPS.userroomid_forgotten)

    # -- reads -------------------------------------------------------------------------
    def get(self, user_id: str, room_id: str) -> UserRoom | None:
        raw = self._user_rooms.get(key(user_id, room_id))
        return _decode(room_id, raw) if raw is not None else None

    def membership(self, user_id: str, room_id: str) -> str | None:
        found = self.get(user_id, room_id)
        return found.membership if found else None

    def is_joined(self, user_id: str, room_id: str) -> bool:
        return self.membership(user_id, room_id) == MembershipState.JOIN

    def rooms_of(
        self, user_id: str, memberships: Iterable[str] = (MembershipState.JOIN,)
    ) -> list[UserRoom]:
        wanted = set(memberships)
        out = []
        start = prefix(user_id)
        for k, raw in self._user_rooms.iter_prefix(start):
            room = _decode(k[len(start) :].decode(), raw)
            if room.membership in wanted:
                out.append(room)
        return out

    def members(self, room_id: str, membership: str = MembershipState.JOIN) -> Iterator[str]:
        start = prefix(room_id, membership)
        for k, _ in self._room_users.iter_prefix(start):
            yield k[len(start) :].decode()

    def count(self, room_id: str, membership: str = MembershipState.JOIN) -> int:
        raw = self._counts.get(key(room_id, membership))
        return from_u64(raw) if raw else 0

    def is_forgotten(self, user_id: str, room_id: str) -> bool:
        return self._forgotten.contains(key(user_id, room_id))

    # -- writes --------------------------------------------------------------------------
    def apply(self, batch: Batch, changes: Iterable[MembershipChange]) -> None:
        """Move each user to their new membership, keeping the counts right."""
        counts: dict[tuple[str, str], int] = {}

        def bump(room_id: str, membership: str, delta: int) -> None:
            k = (room_id, membership)
            if k not in counts:
                counts[k] = self.count(room_id, membership)
            counts[k] = max(0, counts[k] + delta)

        seen: dict[tuple[str, str], str | None] = {}
        for change in changes:
            pair = (change.user_id, change.room_id)
            old = seen[pair] if pair in seen else self.membership(*pair)
            if old is not None:
                batch.delete(self._room_users, key(change.room_id, old, change.user_id))
                bump(change.room_id, old, -1)
            batch.put(self._user_rooms, key(change.user_id, change.room_id), _encode(change))
            batch.put(self._room_users, key(change.room_id, change.membership, change.user_id), b"")
            bump(change.room_id, change.membership, +1)
            if change.membership in IN_ROOM:
                batch.delete(self._forgotten, key(change.user_id, change.room_id))
            seen[pair] = change.membership
            if (old == MembershipState.JOIN) != (
                change.membership == MembershipState.JOIN
            ) and self.join_listeners:
                batch.after_commit(
                    partial(
                        self._tell_join_listeners, *pair, change.membership == MembershipState.JOIN
                    )
                )
        for (room_id, membership), n in counts.items():
            batch.put(self._counts, key(room_id, membership), u64(n))

    def _tell_join_listeners(self, user_id: str, room_id: str, joined: bool) -> None:
        for listener in self.join_listeners:
            listener(user_id, room_id, joined)

    def forget(self, batch: Batch, user_id: str, room_id: str) -> None:
        batch.put(self._forgotten, key(user_id, room_id), b"")
