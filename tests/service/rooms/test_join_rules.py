"""Knocking (v7+) and restricted joins (v8+)."""

from __future__ import annotations

import pytest

from conduwuit.core.errors import MatrixError
from conduwuit.core.ids import RoomId
from conduwuit.core.room_creation import PlannedEvent
from conduwuit.service.rooms.actions import CreateRoom
from conduwuit.service.rooms.history import RoomHistory

from .conftest import ALICE, BOB, CAROL, Stack


async def test_knock_then_invite(stack: Stack) -> None:
    room = RoomId.parse(
        await stack.actions.create_room(
            ALICE,
            CreateRoom(
                room_version="10",
                initial_state=(PlannedEvent("m.room.join_rules", {"join_rule": "knock"}, ""),),
            ),
        )
    )
    with pytest.raises(MatrixError):
        await stack.membership.join(BOB, str(room))
    await stack.membership.knock(BOB, str(room), reason="let me in")
    assert stack.storage.member_index.membership(str(BOB), str(room)) == "knock"
    await stack.membership.invite(ALICE, room, BOB)
    await stack.membership.join(BOB, str(room))
    assert stack.storage.member_index.is_joined(str(BOB), str(room))


async def test_knock_refused_in_old_room_versions(stack: Stack) -> None:
    room = await stack.actions.create_room(ALICE, CreateRoom(room_version="6"))
    with pytest.raises(MatrixError):
        await stack.membership.knock(BOB, room)


async def test_restricted_join_needs_membership_of_an_allowed_room(stack: Stack) -> None:
    space = await stack.actions.create_room(ALICE, CreateRoom(preset="public_chat"))
    room = RoomId.parse(
        await stack.actions.create_room(
            ALICE,
            CreateRoom(
                room_version="10",
                initial_state=(
                    PlannedEvent(
                        "m.room.join_rules",
                        {
                            "join_rule": "restricted",
                            "allow": [{"type": "m.room_membership", "room_id": space}],
                        },
                        "",
                    ),
                ),
            ),
        )
    )
    with pytest.raises(MatrixError):
        await stack.membership.join(BOB, str(room))
    await stack.membership.join(BOB, space)
    await stack.membership.join(BOB, str(room))
    member = RoomHistory(stack.actions).state_event(BOB, room, "m.room.member", str(BOB))
    assert member["content"]["join_authorised_via_users_server"] == str(ALICE)
    assert not stack.storage.member_index.is_joined(str(CAROL), str(room))
