"""Relations, typing and receipts at the service level."""

from __future__ import annotations

import asyncio

import pytest

from conduwuit.core.errors import MatrixError
from conduwuit.core.ids import RoomId
from conduwuit.service.clock import system_clock
from conduwuit.service.rooms.actions import CreateRoom
from conduwuit.service.rooms.receipts import Receipts
from conduwuit.service.rooms.relations import Relations
from conduwuit.service.rooms.typing import Typing

from .conftest import ALICE, BOB, CAROL, Stack


async def room_with_bob(stack: Stack) -> RoomId:
    room = RoomId.parse(await stack.actions.create_room(ALICE, CreateRoom(preset="public_chat")))
    await stack.membership.join(BOB, str(room))
    return room


async def test_relations_by_type_with_pagination_and_recursion(stack: Stack) -> None:
    room = await room_with_bob(stack)
    root = await stack.actions.send(ALICE, room, "m.room.message", {"body": "root"})
    reactions = [
        await stack.actions.send(
            BOB,
            room,
            "m.reaction",
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": root, "key": k}},
        )
        for k in ("a", "b", "c")
    ]
    reply = await stack.actions.send(
        BOB,
        room,
        "m.room.message",
        {"body": "in thread", "m.relates_to": {"rel_type": "m.thread", "event_id": root}},
    )
    nested = await stack.actions.send(
        ALICE,
        room,
        "m.reaction",
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": reply, "key": "x"}},
    )
    relations = Relations(stack.history)
    all_of = relations.relations(ALICE, room, root)
    assert [e["event_id"] for e in all_of["chunk"]] == [reply, *reversed(reactions)]
    page = relations.relations(ALICE, room, root, rel_type="m.annotation", limit=2)
    assert [e["event_id"] for e in page["chunk"]] == [reactions[2], reactions[1]]
    rest = relations.relations(
        ALICE, room, root, rel_type="m.annotation", from_token=page["next_batch"]
    )
    assert [e["event_id"] for e in rest["chunk"]] == [reactions[0]]
    only = relations.relations(ALICE, room, root, rel_type="m.thread", event_type="m.room.message")
    assert [e["event_id"] for e in only["chunk"]] == [reply]
    deep = relations.relations(ALICE, room, root, recurse=True)
    assert nested in [e["event_id"] for e in deep["chunk"]]
    # A redacted relation no longer counts.
    await stack.actions.redact(BOB, room, reactions[0], {})
    after = relations.relations(ALICE, room, root, rel_type="m.annotation")
    assert reactions[0] not in [e["event_id"] for e in after["chunk"]]
    with pytest.raises(MatrixError):
        relations.relations(
            CAROL, RoomId.parse(await stack.actions.create_room(ALICE, CreateRoom())), root
        )


async def test_typing_clamps_timeouts_and_expires(stack: Stack) -> None:
    room = await room_with_bob(stack)
    typing = Typing(
        stack.db, stack.storage.member_index, stack.notifier, stack.clock, 15_000, 45_000
    )
    typing.set_typing(BOB, room, True, 1_000_000)
    assert typing.typing_users(str(room)) == [str(BOB)]
    position = typing.last_change(str(room))
    assert stack.notifier.last_change(rooms=[str(room)]) == position
    stack.clock.now += 46_000
    assert typing.typing_users(str(room)) == []
    with pytest.raises(MatrixError):
        typing.set_typing(CAROL, room, True, 1000)


async def test_timeouts_reach_the_listeners(stack: Stack) -> None:
    """A timeout is told like a stop, once, whether a reader or the sweep finds it."""
    room = await room_with_bob(stack)
    await stack.membership.join(CAROL, str(room))
    typing = Typing(stack.db, stack.storage.member_index, stack.notifier, stack.clock)
    heard: list[tuple[str, str, bool]] = []
    typing.listeners.append(lambda r, u, t: heard.append((r, u, t)))
    typing.set_typing(BOB, room, True, 20_000)
    typing.set_typing(CAROL, room, True, 40_000)
    first = typing.next_expiry()
    assert first is not None and 19_990 < first - stack.clock.now <= 20_000
    stack.clock.now = first
    position = typing.last_change(str(room))
    typing.expire_due()
    assert typing.last_change(str(room)) > position
    assert heard[2:] == [(str(room), str(BOB), False)]
    assert typing.typing_users(str(room)) == [str(CAROL)]
    stack.clock.now = first + 20_000
    # A reader that comes first: the same effects, and the sweep finds nothing more.
    assert typing.typing_users(str(room)) == []
    typing.expire_due()
    assert heard[3:] == [(str(room), str(CAROL), False)]
    assert typing.next_expiry() is None


async def test_timeouts_are_reported_as_they_happen(stack: Stack) -> None:
    """The sweep started with the server: a timeout is told without any reader."""
    room = await room_with_bob(stack)
    typing = Typing(stack.db, stack.storage.member_index, stack.notifier, system_clock, 50, 50)
    stopped = asyncio.Event()
    typing.listeners.append(lambda r, u, t: None if t else stopped.set())
    typing.start()
    try:
        typing.set_typing(BOB, room, True, 50)
        await asyncio.wait_for(stopped.wait(), 5)
        assert typing.next_expiry() is None
    finally:
        await typing.stop()


async def test_receipts_public_and_private(stack: Stack) -> None:
    room = await room_with_bob(stack)
    first = await stack.actions.send(ALICE, room, "m.room.message", {"body": "1"})
    second = await stack.actions.send(ALICE, room, "m.room.message", {"body": "2"})
    receipts = Receipts(
        stack.db, stack.storage.member_index, stack.storage.timeline, stack.notifier, stack.clock
    )
    position = stack.db.current_count()
    receipts.set_receipt(BOB, room, "m.read", first)
    receipts.set_receipt(BOB, room, "m.read", second)
    receipts.set_receipt(BOB, room, "m.read.private", second)
    content = receipts.since(str(room), position)
    assert list(content) == [second]
    assert list(content[second]) == ["m.read"]
    assert receipts.latest(BOB, str(room), "m.read.private") is not None
    with pytest.raises(MatrixError):
        receipts.set_receipt(BOB, room, "m.read", "$nope")
    with pytest.raises(MatrixError):
        receipts.set_receipt(CAROL, room, "m.read", first)


async def test_edits_threads_and_references_are_bundled(stack: Stack) -> None:
    room = await room_with_bob(stack)
    root = await stack.actions.send(ALICE, room, "m.room.message", {"body": "root"})
    other = await stack.actions.send(ALICE, room, "m.room.message", {"body": "another root"})
    edit = {
        "body": "* fixed",
        "m.new_content": {"body": "fixed"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": root},
    }
    await stack.actions.send(BOB, room, "m.room.message", edit)  # not the sender: ignored
    latest_edit = await stack.actions.send(ALICE, room, "m.room.message", edit)
    in_thread = {"body": "reply", "m.relates_to": {"rel_type": "m.thread", "event_id": root}}
    await stack.actions.send(BOB, room, "m.room.message", in_thread)
    last_reply = await stack.actions.send(BOB, room, "m.room.message", in_thread)
    await stack.actions.send(
        BOB,
        room,
        "m.room.message",
        {"body": "ref", "m.relates_to": {"rel_type": "m.reference", "event_id": root}},
    )
    event = stack.history.event(ALICE, room, root)
    bundled = event["unsigned"]["m.relations"]
    assert bundled["m.replace"]["event_id"] == latest_edit
    assert bundled["m.thread"]["count"] == 2
    assert bundled["m.thread"]["latest_event"]["event_id"] == last_reply
    assert bundled["m.thread"]["current_user_participated"] is True
    assert len(bundled["m.reference"]["chunk"]) == 1

    relations = Relations(stack.history)
    threads = relations.threads(ALICE, room)
    assert [t["event_id"] for t in threads["chunk"]] == [root]
    await stack.actions.send(
        ALICE,
        room,
        "m.room.message",
        {"body": "new thread", "m.relates_to": {"rel_type": "m.thread", "event_id": other}},
    )
    threads = relations.threads(BOB, room, limit=1)
    assert [t["event_id"] for t in threads["chunk"]] == [other]
    rest = relations.threads(BOB, room, limit=1, from_token=threads["next_batch"])
    assert [t["event_id"] for t in rest["chunk"]] == [root]
    mine = relations.threads(BOB, room, include="participated")
    assert [t["event_id"] for t in mine["chunk"]] == [root]
