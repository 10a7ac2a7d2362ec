"""Typing notifications (client-server API "Typing notifications"): in memory only,
each change takes a stream position and wakes the room's waiters. Timeouts are
clamped to conduwuit's ``typing_client_timeout_min_s``/``_max_s``.

A timeout is a change too, told to the listeners as ``typing=False`` (the
application services' ``m.typing``, MSC2409; the federation sender's EDU), as
Synapse's typing handler does when a timer finds it: a task started with the
server sleeps until the earliest expiry. A reader (``/sync``) that comes first
expires the entry itself, with the same effects.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from conduwuit.core.errors import forbidden
from conduwuit.core.ids import RoomId, UserId
from conduwuit.db import Database
from conduwuit.service.notifier import Notifier
from conduwuit.service.rooms.member_index import MemberIndex
from conduwuit.service.tasks import BackgroundTasks


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
        #: Told ``(room ID, user ID, typing)`` of each change a client makes and of
        #: each timeout (the federation and appservice senders).
        self.listeners: list[Callable[[str, str, bool], None]] = []
        self._tasks = BackgroundTasks()
        self._wake = asyncio.Event()
        self._timer: asyncio.Task[None] | None = None

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
            self._wake.set()
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
        self._expire(room_id, self._clock())
        return sorted(self._typing.get(room_id, ()))

    def _expire(self, room: str, now: int) -> None:
        users = self._typing.get(room)
        if not users:
            return
        expired = [u for u, expiry in users.items() if expiry <= now]
        for user in expired:
            del users[user]
        if not users:
            del self._typing[room]
        if not expired:
            return
        self._bump(room)
        # Entries are gone before the listeners run: one that reads the room's
        # typing users (the appservice sender) sees the list after the timeout.
        for user in expired:
            for listener in self.listeners:
                listener(room, user, False)

    def expire_due(self) -> None:
        """Drop every entry whose timeout has passed, each a change as above."""
        now = self._clock()
        for room in list(self._typing):
            self._expire(room, now)

    def next_expiry(self) -> int | None:
        """When the earliest entry times out (ms), None if nobody is typing."""
        return min((e for users in self._typing.values() for e in users.values()), default=None)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            self.expire_due()
            due = self.next_expiry()
            timeout = None if due is None else max(0, due - self._clock()) / 1000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def start(self) -> None:
        """Report timeouts as they happen (until ``stop``)."""
        if self._timer is None or self._timer.done():
            self._timer = self._tasks.spawn("typing-timeouts", self._run())

    async def stop(self) -> None:
        await self._tasks.stop()

    def last_change(self, room_id: str) -> int:
        return self._changed.get(room_id, 0)
