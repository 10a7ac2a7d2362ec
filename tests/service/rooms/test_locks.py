"""RoomLocks: one holder per room at a time, rooms independent, no lock left behind."""

from __future__ import annotations

import asyncio

import pytest

from conduwuit.service.rooms.locks import RoomLocks


async def test_one_holder_per_room_and_the_map_empties() -> None:
    locks = RoomLocks()
    order: list[str] = []

    async def hold(name: str, room: str, pause: float) -> None:
        async with locks.hold(room):
            order.append(f"{name} in")
            await asyncio.sleep(pause)
            order.append(f"{name} out")

    first = asyncio.create_task(hold("a", "!r", 0.02))
    await asyncio.sleep(0)
    assert locks.held("!r") and len(locks) == 1
    await asyncio.gather(first, hold("b", "!r", 0))
    assert order == ["a in", "a out", "b in", "b out"]
    assert len(locks) == 0 and not locks.held("!r")


async def test_rooms_do_not_wait_for_each_other() -> None:
    locks = RoomLocks()
    inside = asyncio.Event()

    async def long_holder() -> None:
        async with locks.hold("!one"):
            await asyncio.wait_for(inside.wait(), 1)

    async def other_room() -> None:
        async with locks.hold("!two"):
            inside.set()

    await asyncio.wait_for(asyncio.gather(long_holder(), other_room()), 2)
    assert len(locks) == 0


async def test_a_cancelled_waiter_leaves_nothing_behind() -> None:
    locks = RoomLocks()
    release = asyncio.Event()

    async def holder() -> None:
        async with locks.hold("!r"):
            await release.wait()

    async def waiter() -> None:
        async with locks.hold("!r"):
            pytest.fail("the waiter was cancelled before it got the lock")

    held = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert len(locks) == 1  # the holder's
    release.set()
    await held
    assert len(locks) == 0


async def test_an_error_inside_releases_the_lock() -> None:
    locks = RoomLocks()
    with pytest.raises(ValueError, match="refused"):
        async with locks.hold("!r"):
            raise ValueError("refused")
    assert len(locks) == 0
    async with locks.hold("!r"):
        assert locks.held("!r")
