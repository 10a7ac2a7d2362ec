"""One asyncio lock per room (DESIGN.md "Order per room is explicit").

Building, checking and persisting an event happens under its room's lock, so an
``await`` in that path (a key fetch, a missing event, state resolution in a thread)
cannot let another event of the same room be built on the same prev_events. A lock
exists only while someone holds or waits for it: the map does not grow with the
number of rooms ever seen.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class _Entry:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0  # the holder and the waiters


class RoomLocks:
    def __init__(self) -> None:
        self._locks: dict[str, _Entry] = {}

    @asynccontextmanager
    async def hold(self, room_id: str) -> AsyncIterator[None]:
        """``async with locks.hold(room_id):`` the room is this task's alone.

        Not reentrant: a task holding a room's lock must not ask for it again.
        """
        entry = self._locks.get(room_id)
        if entry is None:
            entry = self._locks[room_id] = _Entry()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            # Also reached when the wait is cancelled: the entry goes with its last user.
            entry.users -= 1
            if entry.users == 0:
                del self._locks[room_id]

    def held(self, room_id: str) -> bool:
        entry = self._locks.get(room_id)
        return entry is not None and entry.lock.locked()

    def __len__(self) -> int:
        """Rooms with a lock right now (held or waited for)."""
        return len(self._locks)
