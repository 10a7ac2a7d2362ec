"""Every known room version: create, invite, join, send, redact, ban, read back."""

from __future__ import annotations

import pytest

from conduwuit.core.ids import RoomId
from conduwuit.core.room_versions import KNOWN_ROOM_VERSIONS
from conduwuit.service.rooms.ops import CreateRoom

from .conftest import ALICE, BOB, CAROL, Stack


@pytest.mark.parametrize("version", sorted(KNOWN_ROOM_VERSIONS, key=int))
async def test_room_life_in_every_version(stack: Stack, version: str) -> None:
    room = RoomId.parse(
        await stack.ops.create_room(ALICE, CreateRoom(room_version=version, name="v" + version))
    )
    await stack.members.invite(ALICE, room, BOB)
    await stack.members.join(BOB, str(room))
    message = await stack.ops.send(BOB, room, "m.room.message", {"body": "hello"})
    await stack.ops.redact(ALICE, room, message, {"reason": "mod"})
    await stack.members.ban(ALICE, room, CAROL)
    assert stack.reads.event(ALICE, room, message)["content"] == {}
    assert stack.core.members.membership(str(CAROL), str(room)) == "ban"
    page = stack.reads.messages(BOB, room, limit=50)
    assert page["chunk"][-1]["type"] == "m.room.create"
    create = stack.reads.state_event(ALICE, room, "m.room.create", "")
    assert create["content"]["room_version"] == version
