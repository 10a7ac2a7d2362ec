"""MemberIndex.join_listeners hear of joins and leaves once they are committed."""

from __future__ import annotations

from conduwuit.core.ids import RoomId
from conduwuit.service.rooms.actions import CreateRoom

from .conftest import ALICE, BOB, Stack


async def test_join_listeners_hear_flips_of_joined_state_after_commit(stack: Stack) -> None:
    heard: list[tuple[str, str, bool, bool]] = []

    def listener(user_id: str, room_id: str, joined: bool) -> None:
        # the membership indexes already show the change when a listener runs
        heard.append(
            (user_id, room_id, joined, stack.storage.member_index.is_joined(user_id, room_id))
        )

    stack.storage.member_index.join_listeners.append(listener)
    room = RoomId.parse(await stack.actions.create_room(ALICE, CreateRoom(preset="public_chat")))
    await stack.membership.join(BOB, str(room))
    await stack.actions.send(BOB, room, "m.room.message", {"body": "no membership change"})
    await stack.membership.leave(BOB, room)
    r = str(room)
    assert heard == [
        (str(ALICE), r, True, True),
        (str(BOB), r, True, True),
        (str(BOB), r, False, False),
    ]
