"""A room's life through the service layer on a real RocksDB: create, message,
invite, join, read, redact, leave."""

from __future__ import annotations

import pytest

from conduwuit.core.errors import MatrixError
from conduwuit.core.ids import RoomId
from conduwuit.service.rooms.ops import CreateRoom
from conduwuit.service.rooms.transactions import Txn

from .conftest import ALICE, BOB, CAROL, Stack


async def make_room(stack: Stack, **kwargs: object) -> RoomId:
    return RoomId.parse(await stack.ops.create_room(ALICE, CreateRoom(**kwargs)))  # type: ignore[arg-type]


async def test_create_room_writes_the_spec_events_in_order(stack: Stack) -> None:
    room = await make_room(stack, name="Pub", topic="Beer", preset="public_chat")
    types = [
        (e["type"], e.get("state_key"))
        for e in stack.reads.messages(ALICE, room, direction="f", limit=50)["chunk"]
    ]
    assert types == [
        ("m.room.create", ""),
        ("m.room.member", str(ALICE)),
        ("m.room.power_levels", ""),
        ("m.room.join_rules", ""),
        ("m.room.history_visibility", ""),
        ("m.room.guest_access", ""),
        ("m.room.name", ""),
        ("m.room.topic", ""),
    ]
    assert stack.reads.joined_rooms(ALICE) == [str(room)]
    assert stack.core.members.count(str(room), "join") == 1
    # One forward extremity: every local event builds on the last.
    shortroomid = stack.core.short.room(str(room))
    assert shortroomid is not None
    assert len(stack.core.extremities.get(shortroomid)) == 1


async def test_v12_room_id_derives_from_create_event(stack: Stack) -> None:
    room = await make_room(stack, room_version="12")
    assert room.server_name is None
    create = stack.reads.state_event(ALICE, room, "m.room.create", "")
    assert create["event_id"] == "$" + str(room)[1:]


async def test_messages_txn_and_pagination(stack: Stack) -> None:
    room = await make_room(stack)
    txn = Txn.send(str(ALICE), "DEV", str(room), "m.room.message", "t1")
    first = await stack.ops.send(ALICE, room, "m.room.message", {"body": "hi"}, txn=txn)
    again = await stack.ops.send(ALICE, room, "m.room.message", {"body": "hi"}, txn=txn)
    assert first == again
    for i in range(5):
        await stack.ops.send(ALICE, room, "m.room.message", {"body": str(i), "msgtype": "m.text"})
    page = stack.reads.messages(ALICE, room, limit=3)
    assert [e["content"]["body"] for e in page["chunk"]] == ["4", "3", "2"]
    nxt = stack.reads.messages(ALICE, room, from_token=page["end"], limit=3)
    assert [e["content"]["body"] for e in nxt["chunk"]] == ["1", "0", "hi"]
    forward = stack.reads.messages(ALICE, room, from_token=nxt["end"], direction="f", limit=2)
    assert [e["content"]["body"] for e in forward["chunk"]] == ["hi", "0"]
    event = stack.reads.event(ALICE, room, first, device_id="DEV")
    assert event["unsigned"]["transaction_id"] == "t1"
    assert "transaction_id" not in stack.reads.event(ALICE, room, first)["unsigned"]


async def test_invite_join_leave_and_visibility(stack: Stack) -> None:
    room = await make_room(stack, room_version="10")
    secret = await stack.ops.send(ALICE, room, "m.room.message", {"body": "before"})
    with pytest.raises(MatrixError) as refused:
        stack.reads.messages(BOB, room)
    assert refused.value.status == 403
    await stack.members.invite(ALICE, room, BOB)
    assert stack.core.members.membership(str(BOB), str(room)) == "invite"
    invite = stack.core.members.get(str(BOB), str(room))
    assert invite is not None and invite.stripped_state
    await stack.members.join(BOB, str(room))
    # shared visibility: a member sees history from before they joined.
    assert stack.reads.event(BOB, room, secret)["content"]["body"] == "before"
    await stack.ops.send(BOB, room, "m.room.message", {"body": "from bob"})
    await stack.members.leave(BOB, room)
    later = await stack.ops.send(ALICE, room, "m.room.message", {"body": "after bob left"})
    with pytest.raises(MatrixError):
        stack.reads.event(BOB, room, later)
    bodies = [e["content"].get("body") for e in stack.reads.messages(BOB, room, limit=50)["chunk"]]
    assert "after bob left" not in bodies and "from bob" in bodies
    assert stack.reads.joined_rooms(BOB) == []
    stack.members.forget(BOB, room)
    assert stack.core.members.is_forgotten(str(BOB), str(room))


async def test_refused_requests_change_nothing(stack: Stack) -> None:
    room = await make_room(stack)
    position = stack.db.current_count()
    with pytest.raises(MatrixError):
        await stack.ops.send(BOB, room, "m.room.message", {"body": "not a member"})
    with pytest.raises(MatrixError):
        await stack.members.kick(ALICE, room, CAROL)
    with pytest.raises(MatrixError):
        await stack.ops.create_room(ALICE, CreateRoom(room_version="999"))
    with pytest.raises(MatrixError) as bad_state:
        await stack.ops.create_room(
            ALICE, CreateRoom(power_level_content_override={"users": {str(ALICE): 0}})
        )
    assert bad_state.value.errcode == "M_INVALID_ROOM_STATE"
    assert stack.db.current_count() == position
    assert stack.reads.joined_rooms(ALICE) == [str(room)]


async def test_power_levels_kick_ban_unban(stack: Stack) -> None:
    room = await make_room(stack, preset="public_chat")
    await stack.members.join(BOB, str(room))
    await stack.members.join(CAROL, str(room))
    with pytest.raises(MatrixError):
        await stack.members.kick(BOB, room, CAROL)
    with pytest.raises(MatrixError):
        await stack.ops.send(BOB, room, "m.room.name", {"name": "x"}, state_key="")
    await stack.members.ban(ALICE, room, CAROL, reason="spam")
    assert stack.core.members.membership(str(CAROL), str(room)) == "ban"
    with pytest.raises(MatrixError):
        await stack.members.join(CAROL, str(room))
    await stack.members.unban(ALICE, room, CAROL)
    await stack.members.join(CAROL, str(room))
    await stack.members.kick(ALICE, room, CAROL, reason="bye")
    assert stack.core.members.count(str(room), "join") == 2
    members = stack.reads.members(ALICE, room, not_membership="leave")
    assert {m["state_key"] for m in members} == {str(ALICE), str(BOB)}


async def test_redaction_serves_redacted_form(stack: Stack) -> None:
    room = await make_room(stack, preset="public_chat")
    await stack.members.join(BOB, str(room))
    mine = await stack.ops.send(BOB, room, "m.room.message", {"body": "oops"})
    with pytest.raises(MatrixError):
        other = await stack.ops.send(ALICE, room, "m.room.message", {"body": "alice's"})
        await stack.ops.redact(BOB, room, other, {})
    await stack.ops.redact(BOB, room, mine, {"reason": "typo"})
    event = stack.reads.event(ALICE, room, mine)
    assert event["content"] == {}
    assert event["unsigned"]["redacted_because"]["content"]["reason"] == "typo"
