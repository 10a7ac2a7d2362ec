"""A room's life through the service layer on a real RocksDB: create, message,
invite, join, read, redact, leave."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conduwuit.core.errors import MatrixError
from conduwuit.core.ids import RoomId
from conduwuit.db import Database
from conduwuit.server import services_over
from conduwuit.service.rooms.actions import CreateRoom
from conduwuit.service.rooms.transactions import Txn
from tests.kit.homeserver import homeserver_config

from .conftest import ALICE, BOB, CAROL, Clock, Stack


async def make_room(stack: Stack, **kwargs: object) -> RoomId:
    return RoomId.parse(await stack.actions.create_room(ALICE, CreateRoom(**kwargs)))  # type: ignore[arg-type]


async def test_create_room_writes_the_spec_events_in_order(stack: Stack) -> None:
    room = await make_room(stack, name="Pub", topic="Beer", preset="public_chat")
    types = [
        (e["type"], e.get("state_key"))
        for e in stack.history.messages(ALICE, room, direction="f", limit=50)["chunk"]
    ]
    assert types == [
        ("m.room.create", ""),
        ("m.room.member", str(ALICE)),
        ("m.room.power_levels", ""),
        ("m.room.join_rules", ""),
        ("m.room.history_visibility", ""),
        # No m.room.guest_access: "forbidden" is the default (as Synapse).
        ("m.room.name", ""),
        ("m.room.topic", ""),
    ]
    assert stack.history.joined_rooms(ALICE) == [str(room)]
    assert stack.storage.member_index.count(str(room), "join") == 1
    # One forward extremity: every local event builds on the last.
    shortroomid = stack.storage.short.room(str(room))
    assert shortroomid is not None
    assert len(stack.storage.extremities.get(shortroomid)) == 1


async def test_initial_events_carry_the_rooms_creation_time(stack: Stack) -> None:
    # The test clock ticks on every reading: only one reading stamps them all.
    room = await make_room(stack, name="Pub", preset="public_chat")
    chunk = stack.history.messages(ALICE, room, direction="f", limit=50)["chunk"]
    stamps = {e["origin_server_ts"] for e in chunk}
    assert len(chunk) == 6 and len(stamps) == 1
    later = await stack.actions.send(ALICE, room, "m.room.message", {"body": "hi"})
    message = stack.history.event(ALICE, room, later)
    assert message["origin_server_ts"] > stamps.pop()


async def test_v12_room_id_derives_from_create_event(stack: Stack) -> None:
    room = await make_room(stack, room_version="12")
    assert room.server_name is None
    create = stack.history.state_event(ALICE, room, "m.room.create", "")
    assert create["event_id"] == "$" + str(room)[1:]


async def test_messages_txn_and_pagination(stack: Stack) -> None:
    room = await make_room(stack)
    txn = Txn.send(str(ALICE), "DEV", str(room), "m.room.message", "t1")
    first = await stack.actions.send(ALICE, room, "m.room.message", {"body": "hi"}, txn=txn)
    again = await stack.actions.send(ALICE, room, "m.room.message", {"body": "hi"}, txn=txn)
    assert first == again
    for i in range(5):
        await stack.actions.send(
            ALICE, room, "m.room.message", {"body": str(i), "msgtype": "m.text"}
        )
    page = stack.history.messages(ALICE, room, limit=3)
    assert [e["content"]["body"] for e in page["chunk"]] == ["4", "3", "2"]
    nxt = stack.history.messages(ALICE, room, from_token=page["end"], limit=3)
    assert [e["content"]["body"] for e in nxt["chunk"]] == ["1", "0", "hi"]
    forward = stack.history.messages(ALICE, room, from_token=nxt["end"], direction="f", limit=2)
    assert [e["content"]["body"] for e in forward["chunk"]] == ["hi", "0"]
    event = stack.history.event(ALICE, room, first, device_id="DEV")
    assert event["unsigned"]["transaction_id"] == "t1"
    assert "transaction_id" not in stack.history.event(ALICE, room, first)["unsigned"]


async def test_invite_join_leave_and_visibility(stack: Stack) -> None:
    room = await make_room(stack, room_version="10")
    secret = await stack.actions.send(ALICE, room, "m.room.message", {"body": "before"})
    with pytest.raises(MatrixError) as refused:
        stack.history.messages(BOB, room)
    assert refused.value.status == 403
    await stack.membership.invite(ALICE, room, BOB)
    assert stack.storage.member_index.membership(str(BOB), str(room)) == "invite"
    invite = stack.storage.member_index.get(str(BOB), str(room))
    assert invite is not None and invite.stripped_state
    await stack.membership.join(BOB, str(room))
    # shared visibility: a member sees history from before they joined.
    assert stack.history.event(BOB, room, secret)["content"]["body"] == "before"
    await stack.actions.send(BOB, room, "m.room.message", {"body": "from bob"})
    await stack.membership.leave(BOB, room)
    later = await stack.actions.send(ALICE, room, "m.room.message", {"body": "after bob left"})
    with pytest.raises(MatrixError):
        stack.history.event(BOB, room, later)
    bodies = [
        e["content"].get("body") for e in stack.history.messages(BOB, room, limit=50)["chunk"]
    ]
    assert "after bob left" not in bodies and "from bob" in bodies
    assert stack.history.joined_rooms(BOB) == []
    stack.membership.forget(BOB, room)
    assert stack.storage.member_index.is_forgotten(str(BOB), str(room))


async def test_refused_requests_change_nothing(stack: Stack) -> None:
    room = await make_room(stack)
    position = stack.db.current_count()
    with pytest.raises(MatrixError):
        await stack.actions.send(BOB, room, "m.room.message", {"body": "not a member"})
    with pytest.raises(MatrixError):
        await stack.membership.kick(ALICE, room, CAROL)
    with pytest.raises(MatrixError):
        await stack.actions.create_room(ALICE, CreateRoom(room_version="999"))
    with pytest.raises(MatrixError) as bad_state:
        await stack.actions.create_room(
            ALICE, CreateRoom(power_level_content_override={"users": {str(ALICE): 0}})
        )
    assert bad_state.value.errcode == "M_INVALID_ROOM_STATE"
    assert stack.db.current_count() == position
    assert stack.history.joined_rooms(ALICE) == [str(room)]


async def test_power_levels_kick_ban_unban(stack: Stack) -> None:
    room = await make_room(stack, preset="public_chat")
    await stack.membership.join(BOB, str(room))
    await stack.membership.join(CAROL, str(room))
    with pytest.raises(MatrixError):
        await stack.membership.kick(BOB, room, CAROL)
    with pytest.raises(MatrixError):
        await stack.actions.send(BOB, room, "m.room.name", {"name": "x"}, state_key="")
    await stack.membership.ban(ALICE, room, CAROL, reason="spam")
    assert stack.storage.member_index.membership(str(CAROL), str(room)) == "ban"
    with pytest.raises(MatrixError):
        await stack.membership.join(CAROL, str(room))
    await stack.membership.unban(ALICE, room, CAROL)
    await stack.membership.join(CAROL, str(room))
    await stack.membership.kick(ALICE, room, CAROL, reason="bye")
    assert stack.storage.member_index.count(str(room), "join") == 2
    members = stack.history.members(ALICE, room, not_membership="leave")
    assert {m["state_key"] for m in members} == {str(ALICE), str(BOB)}


async def test_redaction_serves_redacted_form(stack: Stack) -> None:
    room = await make_room(stack, preset="public_chat")
    await stack.membership.join(BOB, str(room))
    mine = await stack.actions.send(BOB, room, "m.room.message", {"body": "oops"})
    with pytest.raises(MatrixError):
        other = await stack.actions.send(ALICE, room, "m.room.message", {"body": "alice's"})
        await stack.actions.redact(BOB, room, other, {})
    await stack.actions.redact(BOB, room, mine, {"reason": "typo"})
    event = stack.history.event(ALICE, room, mine)
    assert event["content"] == {}
    assert event["unsigned"]["redacted_because"]["content"]["reason"] == "typo"


async def test_answers_come_after_the_millisecond_their_event_was_stamped(
    db: Database, tmp_path: Path
) -> None:
    # Under the wall clock, as in production: a client that reads its clock after
    # our answer must be past the event's millisecond, or "events after now" (a
    # date jump forwards) would include the event it just made.
    def wall_clock() -> int:
        return time.time_ns() // 1_000_000

    config = homeserver_config(tmp_path / "unused")
    stack = Stack(services_over(config, db, wall_clock), Clock())

    def stamp_of(event_id: str) -> int:
        return int(stack.history.event(ALICE, room, event_id)["origin_server_ts"])

    for _ in range(10):
        # ... and a client that read its clock just before asking is before it.
        before = wall_clock()
        room = RoomId.parse(
            await stack.actions.create_room(ALICE, CreateRoom(preset="public_chat"))
        )
        create = stack.history.state_event(ALICE, room, "m.room.create", "")
        assert before < create["origin_server_ts"] < wall_clock()
    for i in range(20):
        sent = await stack.actions.send(ALICE, room, "m.room.message", {"body": str(i)})
        assert wall_clock() > stamp_of(sent)
        topic = await stack.actions.send(ALICE, room, "m.room.topic", {"topic": str(i)}, "")
        assert wall_clock() > stamp_of(topic)
    await stack.membership.join(BOB, str(room))
    joined = stack.history.state_event(ALICE, room, "m.room.member", str(BOB))
    assert wall_clock() > joined["origin_server_ts"]
