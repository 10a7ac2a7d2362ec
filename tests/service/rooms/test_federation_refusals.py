"""Membership changes that need another server go to it (a join through make_join)
or are refused clearly, and a refusal changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from conduwuit.core.errors import MatrixError
from conduwuit.core.ids import RoomId
from conduwuit.db import Database
from conduwuit.service.rooms.actions import CreateRoom

from .conftest import ALICE, BOB, Stack, build
from .test_pipeline import DAVE, public_room_with_dave


def members(stack: Stack, room: str) -> dict[str, str | None]:
    index = stack.storage.member_index
    return {u: index.membership(u, room) for u in (str(ALICE), str(BOB), DAVE)}


async def test_a_room_only_other_servers_are_in_is_joined_through_them(
    db: Database, tmp_path: Path
) -> None:
    """No local join event on a stale state: the join goes to the other servers
    (here refused at once, federation being off), and nothing changes."""
    stack = build(db, tmp_path, allow_federation=False)
    room = str(await public_room_with_dave(stack))
    await stack.membership.leave(ALICE, RoomId.parse(room))
    assert not stack.membership.is_resident(room)
    assert stack.membership.needs_federation(room)
    before = members(stack, room), stack.storage.state.current_hash(room)
    for user in (BOB, ALICE):
        with pytest.raises(MatrixError) as refused:
            await stack.membership.join(user, room)
        assert (refused.value.status, refused.value.errcode) == (403, "M_FORBIDDEN")
        assert "allow_federation" in refused.value.message
    assert (members(stack, room), stack.storage.state.current_hash(room)) == before


async def test_knocking_on_a_room_this_server_is_not_in_goes_to_its_servers(
    db: Database, tmp_path: Path
) -> None:
    """Like a join: the knock goes to the room's other servers (make_knock), here
    refused at once, federation being off, and nothing changes."""
    stack = build(db, tmp_path, allow_federation=False)
    room = str(await public_room_with_dave(stack))
    await stack.membership.leave(ALICE, RoomId.parse(room))
    before = members(stack, room), stack.storage.state.current_hash(room)
    with pytest.raises(MatrixError) as refused:
        await stack.membership.knock(BOB, room)
    assert (refused.value.status, refused.value.errcode) == (403, "M_FORBIDDEN")
    assert "allow_federation" in refused.value.message
    assert (members(stack, room), stack.storage.state.current_hash(room)) == before


async def test_a_room_with_a_local_member_is_joined_locally(stack: Stack) -> None:
    room = str(await public_room_with_dave(stack))
    assert stack.membership.is_resident(room)
    assert not stack.membership.needs_federation(room)
    await stack.membership.join(BOB, room)
    assert stack.storage.member_index.is_joined(str(BOB), room)


async def test_a_room_only_local_users_were_in_stays_local(stack: Stack) -> None:
    room = await stack.actions.create_room(ALICE, CreateRoom(preset="public_chat"))
    await stack.membership.leave(ALICE, RoomId.parse(room))
    assert not stack.membership.needs_federation(room)
    await stack.membership.join(BOB, room)
    assert stack.storage.member_index.is_joined(str(BOB), room)
