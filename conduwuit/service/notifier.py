"""Wake-ups for long-polls: "something changed for user X / room R at stream position N".

Writers call ``notify(position, rooms=..., users=...)`` after committing; /sync
calls ``wait(since, rooms=..., users=..., timeout_ms=...)``, which returns at once if
anything it watches changed after ``since``, else sleeps on futures until a
matching notify or the timeout. No polling; everything runs on the event loop.
At shutdown ``close()`` ends every wait at once (as a timeout), so long-polls answer
instead of holding the process for the client shutdown timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

Key = tuple[str, str]  # ("room", room_id) or ("user", user_id)


class Notifier:
    def __init__(self) -> None:
        self.position = 0
        self._last: dict[Key, int] = {}
        self._waiters: dict[Key, set[asyncio.Future[int]]] = {}
        #: Long-polls sleeping in ``wait`` now.
        self.waiting = 0
        self.closed = False

    @staticmethod
    def _keys(rooms: Iterable[str], users: Iterable[str]) -> list[Key]:
        return [("room", r) for r in rooms] + [("user", u) for u in users]

    def last_change(self, rooms: Iterable[str] = (), users: Iterable[str] = ()) -> int:
        return max((self._last.get(k, 0) for k in self._keys(rooms, users)), default=0)

    def notify(self, position: int, rooms: Iterable[str] = (), users: Iterable[str] = ()) -> None:
        self.position = max(self.position, position)
        for k in self._keys(rooms, users):
            self._last[k] = max(self._last.get(k, 0), position)
            for future in self._waiters.pop(k, ()):
                if not future.done():
                    future.set_result(position)

    def close(self) -> None:
        """Shutting down: every pending wait returns now, and later ones at once."""
        self.closed = True
        for waiting in self._waiters.values():
            for future in waiting:
                if not future.done():
                    future.set_result(-1)

    async def wait(
        self,
        since: int,
        rooms: Iterable[str] = (),
        users: Iterable[str] = (),
        timeout_ms: int | None = None,
    ) -> int:
        """The newest position of a watched change after ``since``, or ``since`` on timeout."""
        keys = self._keys(rooms, users)
        latest = max((self._last.get(k, 0) for k in keys), default=0)
        if latest > since:
            return latest
        if self.closed or (timeout_ms is not None and timeout_ms <= 0):
            return since
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        for k in keys:
            self._waiters.setdefault(k, set()).add(future)
        self.waiting += 1
        try:
            woke = await asyncio.wait_for(future, None if timeout_ms is None else timeout_ms / 1000)
            return since if woke < 0 else woke
        except TimeoutError:
            return since
        finally:
            self.waiting -= 1
            for k in keys:
                waiting = self._waiters.get(k)
                if waiting is not None:
                    waiting.discard(future)
                    if not waiting:
                        del self._waiters[k]
