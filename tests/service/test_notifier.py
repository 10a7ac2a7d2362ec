"""Wake-ups without polling: waiters return on a matching change or the timeout."""

from __future__ import annotations

import asyncio

from conduwuit.service.notifier import Notifier


async def test_wait_returns_on_matching_notify() -> None:
    notifier = Notifier()
    waiter = asyncio.create_task(notifier.wait(0, rooms=["!r:x"], timeout_ms=5000))
    await asyncio.sleep(0)
    notifier.notify(3, rooms=["!other:x"])
    await asyncio.sleep(0)
    assert not waiter.done()
    notifier.notify(5, users=["@u:x"], rooms=["!r:x"])
    assert await waiter == 5


async def test_change_before_waiting_returns_at_once() -> None:
    notifier = Notifier()
    notifier.notify(4, users=["@u:x"])
    assert await notifier.wait(3, users=["@u:x"], timeout_ms=5000) == 4
    assert await notifier.wait(4, users=["@u:x"], timeout_ms=0) == 4


async def test_timeout_returns_since_and_cleans_up() -> None:
    notifier = Notifier()
    assert await notifier.wait(7, rooms=["!r:x"], timeout_ms=10) == 7
    assert notifier._waiters == {}


async def test_close_ends_pending_and_later_waits_as_timeouts() -> None:
    notifier = Notifier()
    waiter = asyncio.create_task(
        notifier.wait(7, rooms=["!r:x"], users=["@u:x"], timeout_ms=60_000)
    )
    await asyncio.sleep(0)
    notifier.close()
    assert await asyncio.wait_for(waiter, 1) == 7
    assert await asyncio.wait_for(notifier.wait(9, users=["@u:x"], timeout_ms=60_000), 1) == 9
    assert not notifier._waiters
