"""Large rooms stay cheap: the hot paths never turn the whole state into event IDs,
and snapshots of a room with thousands of members stay a few small layers deep."""

from __future__ import annotations

from typing import Any

import pytest

from conduwuit.core.ids import RoomId, UserId
from conduwuit.service.rooms.actions import CreateRoom
from conduwuit.service.rooms.state import RoomState
from conduwuit.service.rooms.state_store import MAX_LAYERS

from .conftest import ALICE, BOB, Stack


async def test_hot_paths_do_no_full_state_loads(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = RoomId.parse(await stack.actions.create_room(ALICE, CreateRoom(preset="public_chat")))
    members = [UserId.parse(f"@m{i}:test.example") for i in range(300)]
    for member in members:
        await stack.membership.join(member, str(room))

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("full state load on a hot path")

    monkeypatch.setattr(RoomState, "state_ids", refuse)
    await stack.actions.send(members[0], room, "m.room.message", {"body": "hi"})
    await stack.membership.join(BOB, str(room))
    await stack.membership.leave(members[1], room)
    await stack.actions.send(ALICE, room, "m.room.topic", {"topic": "big"}, "")
    stack.history.messages(BOB, room, limit=20)
    stack.history.event(
        BOB, room, await stack.actions.send(BOB, room, "m.room.message", {"body": "x"})
    )
    assert stack.storage.member_index.count(str(room), "join") == 301
    assert len(list(stack.storage.member_index.members(str(room), "join"))) == 301

    current = stack.storage.state.current_hash(str(room))
    layers = stack.storage.state.store.layers(current)
    assert len(layers) <= MAX_LAYERS + 1
    # The newest layer is a small diff, not a copy of 300 members.
    assert len(layers[-1].added) + len(layers[-1].removed) < 50
