"""A backwards /messages waits for backfills from other servers at most
``BACKFILL_BUDGET_S`` seconds in all: past it, the page answers what is here."""

from __future__ import annotations

import asyncio
import time

import pytest

from conduwuit.core.ids import RoomId
from conduwuit.service.rooms import history as history_module
from conduwuit.service.rooms.actions import CreateRoom

from .conftest import ALICE, Stack


async def test_backfill_waits_are_bounded_per_request(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = RoomId.parse(await stack.actions.create_room(ALICE, CreateRoom()))
    asked: list[bytes | None] = []

    async def slow_backfill(room_id: str, before: bytes | None) -> bool:
        asked.append(before)
        await asyncio.sleep(0.1)
        return True  # "history came": without the budget, asked again up to 10 times

    stack.history.backfill = slow_backfill
    monkeypatch.setattr(history_module, "BACKFILL_BUDGET_S", 0.25)
    started = time.monotonic()
    page = await stack.history.paginate(ALICE, room, limit=50)
    assert 2 <= len(asked) <= 4 and time.monotonic() - started < 2
    assert page["chunk"][-1]["type"] == "m.room.create" and "end" not in page

    monkeypatch.setattr(history_module, "BACKFILL_BUDGET_S", 60.0)
    asked.clear()
    await stack.history.paginate(ALICE, room, limit=50)
    assert len(asked) == history_module.MAX_BACKFILL_ROUNDS
