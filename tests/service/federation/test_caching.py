"""The discovery caches: bounded, expiring; and one shared lookup per key."""

from __future__ import annotations

import asyncio

import pytest

from conduwuit.service.federation.caching import ExpiringLru, SingleFlight
from tests.service.federation.conftest import FakeClock


def test_entries_expire_and_the_least_recently_used_goes_first(clock: FakeClock) -> None:
    cache: ExpiringLru[str, int] = ExpiringLru(2, clock)
    cache.put("a", 1, clock() + 1000)
    cache.put("b", 2, clock() + 5000)
    assert cache.get("a") == 1  # a is now the most recently used
    cache.put("c", 3, clock() + 5000)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    clock.advance(1)
    assert cache.get("a") is None and len(cache) == 1
    cache.put("d", 4, clock())  # already expired: not kept
    assert cache.get("d") is None


def test_capacity_zero_keeps_nothing(clock: FakeClock) -> None:
    cache: ExpiringLru[str, int] = ExpiringLru(0, clock)
    cache.put("a", 1, clock() + 1000)
    assert cache.get("a") is None and len(cache) == 0


async def test_concurrent_runs_share_one_lookup_and_its_error() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    calls = 0
    release = asyncio.Event()

    async def lookup() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        if calls == 2:
            raise LookupError("second")
        return 42

    runs = [asyncio.ensure_future(flight.run("k", lookup)) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*runs) == [42] * 5
    assert calls == 1 and len(flight) == 0
    release.clear()
    runs = [asyncio.ensure_future(flight.run("k", lookup)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*runs, return_exceptions=True)
    assert [type(r) for r in results] == [LookupError] * 3 and calls == 2


async def test_a_cancelled_leader_does_not_cancel_the_waiters() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    calls = 0
    release = asyncio.Event()

    async def lookup() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        return calls

    leader = asyncio.ensure_future(flight.run("k", lookup))
    await asyncio.sleep(0)
    waiters = [asyncio.ensure_future(flight.run("k", lookup)) for _ in range(3)]
    await asyncio.sleep(0)
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    for _ in range(3):  # the waiters wake up; one of them asks again
        await asyncio.sleep(0)
    assert calls == 2
    release.set()
    assert await asyncio.wait_for(asyncio.gather(*waiters), 5) == [2, 2, 2]
    # a waiter cancelled itself is cancelled, and the lookup goes on for the others
    release.clear()
    first = asyncio.ensure_future(flight.run("j", lookup))
    await asyncio.sleep(0)
    impatient = asyncio.ensure_future(flight.run("j", lookup))
    await asyncio.sleep(0)
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    release.set()
    assert await asyncio.wait_for(first, 5) == 3
