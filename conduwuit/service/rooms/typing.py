"""Typing notifications (client-server API "Typing notifications"): in memory only,
each change takes a stream position and wakes the room's waiters. Timeouts are
clamped to conduwuit's ``typing_client_timeout_min_s``/``_max_s``.
"""

from __future__ import annotations

from collections.abc import Callable

from conduwuit.core.errors import forbidden
from conduwuit.core.ids import RoomId, UserId
from conduwuit.db import Database
from conduwuit.service.notifier import Notifier
from conduwuit.service.rooms.member_index import MemberIndex


class Typing:
    def __init__(
        self,
        db: Database,
        members: MemberIndex,
        notifier: Notifier,
        clock: Callable[[], int],
        min_timeout_ms: int = 15_000,
        max_timeout_ms: int = 45_000,
    ) -> None:
        self._db = db
        self._members = members
        self._notifier = notifier
        self._clock = clock
        self._min = min_timeout_ms
        self._max = max_timeout_ms
        self._typing: dict[str, dict[str, int]] = {}  # room -> user -> expiry (ms)
        self._changed: dict[str, int] = {}  # room -> stream position of last change
        #: Told ``(room ID, user ID, typing)`` of each change a client makes (the
        #: federation and appservice senders).
        self.listeners: list[Callable[[str, str, bool], None]] = []

    def set_typing(
        self,
        user: UserId,
        room_id: RoomId,
        typing: bool,
        timeout_ms: int | None = None,
        *,
        member_unknown_ok: bool = False,
    ) -> None:
        """``member_unknown_ok``: a room joined with partial state, whose members are
        not all known yet; the caller vouched for the user's server."""
        room = str(room_id)
        if not member_unknown_ok and not self._members.is_joined(str(user), room):
            raise forbidden("You are not in this room")
        users = self._typing.setdefault(room, {})
        if typing:
            timeout = min(max(timeout_ms or self._min, self._min), self._max)
            users[str(user)] = self._clock() + timeout
        elif users.pop(str(user), None) is None:
            return
        self._bump(room)
        for listener in self.listeners:
            listener(room, str(user), typing)

    def _bump(self, room: str) -> None:
        position = self._db.next_count()
        self._changed[room] = position
        self._notifier.notify(position, rooms=[room])

    def typing_users(self, room_id: str) -> list[str]:
        """Users typing now; expired entries are dropped (and count as a change)."""
        users = self._typing.get(room_id)
        if not users:
            return []
        now = self._clock()
        expired = [u for u, expiry in users.items() if expiry <= now]
        for user in expired:
            del users[user]
        if expired:
            self._bump(room_id)
        return sorted(users)

    def last_change(self, room_id: str) -> int:
        return self._changed.get(room_id, 0)
