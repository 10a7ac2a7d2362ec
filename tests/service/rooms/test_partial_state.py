"""The partial-state marks (service/rooms/partial_state.py): kept across a reopen,
cleared in a batch, and the waiters of /members woken by the clear only once it is
committed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from conduwuit.db import Database, DatabaseOptions
from conduwuit.service.rooms.partial_state import PartialRoom, PartialStateRooms

ROOM = PartialRoom("!r:remote.example", "$join", ("remote.example", "other.example"))


def test_a_mark_survives_a_reopen_and_is_cleared(tmp_path: Path) -> None:
    options = DatabaseOptions(path=tmp_path / "db")
    with Database.open(options) as db:
        rooms = PartialStateRooms(db)
        assert not rooms.is_partial(ROOM.room_id)
        with db.batch() as b:
            rooms.mark(b, ROOM)
    with Database.open(options) as db:
        rooms = PartialStateRooms(db)
        assert rooms.get(ROOM.room_id) == ROOM
        assert list(rooms.all()) == [ROOM]
        with db.batch() as b:
            rooms.clear(b, ROOM.room_id)
        assert not rooms.is_partial(ROOM.room_id)
        assert list(rooms.all()) == []


async def test_waiters_are_woken_when_the_clear_is_committed(db: Database) -> None:
    rooms = PartialStateRooms(db)
    await asyncio.wait_for(rooms.wait_full(ROOM.room_id), 1)  # not partial: at once
    with db.batch() as b:
        rooms.mark(b, ROOM)
    waiting = asyncio.ensure_future(rooms.wait_full(ROOM.room_id))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    with db.batch() as b:
        rooms.clear(b, ROOM.room_id)
        await asyncio.sleep(0.05)
        assert not waiting.done()  # not before the commit
    await asyncio.wait_for(waiting, 1)
