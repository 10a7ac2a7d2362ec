"""Every known room version: create, invite, join, send, redact, ban, read back."""

from __future__ import annotations

import pytest

from conduwuit.core.ids import RoomId
from conduwuit.core.room_versions import KNOWN_ROOM_VERSIONS
from conduwuit.service.rooms.actions import CreateRoom

from .conftest import ALICE, BOB, CAROL, Stack


@pytest.mark.parametrize("version", list(KNOWN_ROOM_VERSIONS))
async def test_room_life_in_every_version(stack: Stack, version: str) -> None:
    room = RoomId.parse(
        await stack.actions.create_room(ALICE, CreateRoom(room_version=version, name="v" + version))
    )
    await stack.membership.invite(ALICE, room, BOB)
    await stack.membership.join(BOB, str(room))
    message = await stack.actions.send(BOB, room, "m.room.message", {"body": "hello"})
    await stack.actions.redact(ALICE, room, message, {"reason": "mod"})
    await stack.membership.ban(ALICE, room, CAROL)
    assert stack.history.event(ALICE, room, message)["content"] == {}
    assert stack.storage.member_index.membership(str(CAROL), str(room)) == "ban"
    page = stack.history.messages(BOB, room, limit=50)
    assert page["chunk"][-1]["type"] == "m.room.create"
    create = stack.history.state_event(ALICE, room, "m.room.create", "")
    assert create["content"]["room_version"] == version
