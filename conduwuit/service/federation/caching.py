"""The two tools of every discovery cache: a bounded cache whose entries expire, and
one shared lookup for concurrent askers of the same key."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from conduwuit.service.clock import Clock

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ExpiringLru(Generic[K, V]):
    """At most ``capacity`` entries (least recently used dropped first), each until its
    own expiry in the clock's milliseconds. ``capacity`` 0 keeps nothing."""

    def __init__(self, capacity: int, clock: Clock) -> None:
        self._capacity = capacity
        self._clock = clock
        self._entries: OrderedDict[K, tuple[int, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_ms, value = entry
        if expires_ms <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V, expires_ms: int) -> None:
        if self._capacity <= 0 or expires_ms <= self._clock():
            return
        self._entries[key] = (expires_ms, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def pop(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


class SingleFlight(Generic[K, V]):
    """Concurrent ``run`` calls for one key share the first caller's lookup: the others
    wait for its result (or its exception). If the first caller is cancelled, a waiter
    that was not cancelled itself runs the lookup again (and the others share that)."""

    def __init__(self) -> None:
        self._inflight: dict[K, asyncio.Future[V]] = {}

    def __len__(self) -> int:
        return len(self._inflight)

    async def run(self, key: K, lookup: Callable[[], Awaitable[V]]) -> V:
        while (waiter := self._inflight.get(key)) is not None:
            try:
                return await asyncio.shield(waiter)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not waiter.cancelled() or (task is not None and task.cancelling()):
                    raise  # this caller was cancelled, not the one it waited for
        waiter = asyncio.get_running_loop().create_future()
        self._inflight[key] = waiter
        try:
            value = await lookup()
        except asyncio.CancelledError:
            waiter.cancel()
            raise
        except BaseException as exc:
            waiter.set_exception(exc)
            waiter.exception()  # retrieved: no "never retrieved" report without waiters
            raise
        else:
            waiter.set_result(value)
            return value
        finally:
            del self._inflight[key]
