"""History visibility on every read: joined, invited, shared, world_readable, and
leaving then rejoining."""

from __future__ import annotations

import pytest

from conduwuit.core.errors import MatrixError
from conduwuit.core.ids import RoomId
from conduwuit.core.room_creation import PlannedEvent
from conduwuit.service.rooms.actions import CreateRoom

from .conftest import ALICE, BOB, CAROL, Stack


async def room_with(stack: Stack, visibility: str) -> RoomId:
    return RoomId.parse(
        await stack.actions.create_room(
            ALICE,
            CreateRoom(
                preset="public_chat",
                initial_state=(
                    PlannedEvent(
                        "m.room.history_visibility", {"history_visibility": visibility}, ""
                    ),
                ),
            ),
        )
    )


def bodies(stack: Stack, user: object, room: RoomId) -> list[str]:
    page = stack.history.messages(user, room, limit=100)  # type: ignore[arg-type]
    return [e["content"]["body"] for e in page["chunk"] if "body" in e["content"]]


async def test_joined_hides_history_before_join_and_the_gap_after_leaving(stack: Stack) -> None:
    room = await room_with(stack, "joined")
    await stack.actions.send(ALICE, room, "m.room.message", {"body": "before"})
    await stack.membership.join(BOB, str(room))
    await stack.actions.send(ALICE, room, "m.room.message", {"body": "while joined"})
    await stack.membership.leave(BOB, room)
    gap = await stack.actions.send(ALICE, room, "m.room.message", {"body": "gap"})
    await stack.membership.join(BOB, str(room))
    await stack.actions.send(ALICE, room, "m.room.message", {"body": "back"})
    assert bodies(stack, BOB, room) == ["back", "while joined"]
    with pytest.raises(MatrixError):
        stack.history.event(BOB, room, gap)


async def test_shared_shows_everything_to_current_members(stack: Stack) -> None:
    room = await room_with(stack, "shared")
    await stack.actions.send(ALICE, room, "m.room.message", {"body": "before"})
    await stack.membership.join(BOB, str(room))
    assert bodies(stack, BOB, room) == ["before"]


async def test_invited_sees_from_the_invite(stack: Stack) -> None:
    room = await room_with(stack, "invited")
    await stack.actions.send(ALICE, room, "m.room.message", {"body": "before"})
    await stack.membership.invite(ALICE, room, BOB)
    await stack.actions.send(ALICE, room, "m.room.message", {"body": "after invite"})
    await stack.membership.join(BOB, str(room))
    assert bodies(stack, BOB, room) == ["after invite"]


async def test_world_readable_lets_anyone_read_but_not_write(stack: Stack) -> None:
    room = await room_with(stack, "world_readable")
    await stack.actions.send(ALICE, room, "m.room.message", {"body": "public"})
    assert bodies(stack, CAROL, room) == ["public"]
    assert stack.history.state_event(CAROL, room, "m.room.join_rules", "")["content"]
    with pytest.raises(MatrixError):
        await stack.actions.send(CAROL, room, "m.room.message", {"body": "hi"})


async def test_guests_need_can_join_and_leave_when_it_ends(stack: Stack) -> None:
    guests = {str(CAROL)}
    stack.actions.is_guest = lambda user: user in guests
    room = RoomId.parse(await stack.actions.create_room(ALICE, CreateRoom(preset="public_chat")))
    with pytest.raises(MatrixError) as refused:
        await stack.membership.join(CAROL, str(room), guest=True)
    assert refused.value.errcode == "M_GUEST_ACCESS_FORBIDDEN"
    await stack.actions.send(ALICE, room, "m.room.guest_access", {"guest_access": "can_join"}, "")
    await stack.membership.join(CAROL, str(room), guest=True)
    await stack.membership.join(BOB, str(room))
    await stack.actions.send(ALICE, room, "m.room.guest_access", {"guest_access": "forbidden"}, "")
    assert stack.storage.member_index.membership(str(CAROL), str(room)) == "leave"
    assert stack.storage.member_index.is_joined(str(BOB), str(room))
