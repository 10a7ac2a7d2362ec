"""Order per room under concurrency: many senders at once, an ``await`` inside the
pipeline, two rooms at once, and what a reader of the stream sees meanwhile."""

from __future__ import annotations

import asyncio
from itertools import pairwise
from typing import Any

import pytest

from conduwuit.core.errors import AuthError, MatrixError
from conduwuit.core.event_signing import hash_and_sign_event
from conduwuit.core.events import Event
from conduwuit.core.ids import RoomId, UserId
from conduwuit.core.room_versions import V10, RoomVersion
from conduwuit.service.rooms.actions import CreateRoom
from conduwuit.service.rooms.pipeline import EventPipeline
from conduwuit.service.rooms.transactions import Txn

from .conftest import ALICE, SERVER, Stack
from .test_pipeline import (
    REMOTE,
    REMOTE_KEY,
    latest,
    no_verify,
    public_room_with_dave,
    remote_event,
)

SENDERS = [UserId.parse(f"@sender{i}:{SERVER}") for i in range(8)]
MESSAGES = 25


class SlowPipeline(EventPipeline):
    """The real pipeline with an ``await`` between building an event and persisting
    it, where federation will fetch missing auth events."""

    async def check(self, event: Event, rv: RoomVersion, before: int) -> None:
        await asyncio.sleep(0.001)
        await super().check(event, rv, before)


def slow(stack: Stack) -> None:
    storage, old = stack.storage, stack.storage.pipeline
    storage.pipeline = SlowPipeline(
        storage.db, storage.state, old.builder, old.persister, storage.locks
    )


async def room_with_senders(stack: Stack) -> RoomId:
    room = RoomId.parse(await stack.actions.create_room(ALICE, CreateRoom(preset="public_chat")))
    for sender in SENDERS:
        await stack.membership.join(sender, str(room))
    return room


async def send_all(stack: Stack, room: RoomId) -> None:
    async def sender(user: UserId) -> None:
        for n in range(MESSAGES):
            await stack.actions.send(user, room, "m.room.message", {"body": f"{user} {n}"})

    await asyncio.wait_for(asyncio.gather(*(sender(u) for u in SENDERS)), 60)


def timeline(stack: Stack, room: RoomId) -> list[tuple[int, dict[str, Any]]]:
    shortroomid = stack.storage.short.room(str(room))
    assert shortroomid is not None
    return list(stack.storage.timeline.scan(shortroomid, None, backwards=False))


def assert_linear(stack: Stack, room: RoomId) -> None:
    """One chain: each event's only prev_event is the one before it in stream order,
    depth grows by one, each sender's messages are in the order sent, one leaf."""
    events = timeline(stack, room)
    for (prev_count, prev), (count, pdu) in pairwise(events):
        assert count > prev_count
        assert pdu["prev_events"] == [prev["event_id"]]
        assert pdu["depth"] == prev["depth"] + 1
    bodies = [pdu["content"]["body"] for _, pdu in events if pdu["type"] == "m.room.message"]
    assert len(bodies) == len(SENDERS) * MESSAGES
    for user in SENDERS:
        assert [b for b in bodies if b.startswith(f"{user} ")] == [
            f"{user} {n}" for n in range(MESSAGES)
        ]
    shortroomid = stack.storage.short.room(str(room))
    assert shortroomid is not None
    assert stack.storage.extremities.get(shortroomid) == [events[-1][1]["event_id"]]


async def test_concurrent_senders_build_one_ordered_chain(stack: Stack) -> None:
    room = await room_with_senders(stack)
    await send_all(stack, room)
    assert_linear(stack, room)
    assert len(stack.storage.locks) == 0


async def test_an_await_inside_the_pipeline_does_not_fork_the_room(stack: Stack) -> None:
    slow(stack)
    room = await room_with_senders(stack)
    await send_all(stack, room)
    assert_linear(stack, room)
    assert len(stack.storage.locks) == 0


async def test_without_the_lock_the_same_senders_fork_the_room(stack: Stack) -> None:
    """The test above proves something: the slow pipeline without the room's lock
    builds events on the same prev_events."""
    slow(stack)
    room = await room_with_senders(stack)
    pipeline = stack.storage.pipeline

    async def unlocked(
        new: Any,
        sender: str,
        room_id: str | None,
        rv: RoomVersion,
        txn: Any = None,
        countersign: Any = None,
    ) -> Event:
        return await pipeline._create_locked(new, sender, room_id, rv, txn, countersign)

    pipeline.create_local = unlocked  # type: ignore[method-assign]
    await send_all(stack, room)
    with pytest.raises(AssertionError):
        assert_linear(stack, room)


async def test_two_rooms_at_once_reach_a_reader_in_stream_order(stack: Stack) -> None:
    slow(stack)
    rooms = [await room_with_senders(stack), await room_with_senders(stack)]
    total = 2 * len(SENDERS) * MESSAGES
    start = stack.db.current_count()

    async def reader() -> list[int]:
        """A /sync-like reader: wake on the notifier, read everything up to the
        visible position, continue from there."""
        seen: list[int] = []
        since = start
        while len(seen) < total:
            woke = await stack.notifier.wait(
                since, rooms=[str(r) for r in rooms], timeout_ms=10_000
            )
            assert woke > since, "timed out"
            now = stack.db.current_count()
            assert now >= woke  # never woken for a position it may not read yet
            batch = sorted(
                count
                for room in rooms
                for count, pdu in timeline(stack, room)
                if since < count <= now and pdu["type"] == "m.room.message"
            )
            seen.extend(batch)
            since = now
        return seen

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(send_all(stack, room) for room in rooms))
    seen = await asyncio.wait_for(reading, 30)
    # Every message exactly once, in stream order: nothing turned up at a position
    # below one the reader had already passed.
    assert len(seen) == total == len(set(seen))
    assert seen == sorted(seen)
    for room in rooms:
        assert_linear(stack, room)
    assert len(stack.storage.locks) == 0


async def test_an_async_verify_runs_under_the_room_lock(stack: Stack) -> None:
    room = await public_room_with_dave(stack)
    calls: list[bool] = []

    async def verify(pdu: dict[str, Any]) -> None:
        calls.append(stack.storage.locks.held(str(room)))
        await asyncio.sleep(0.01)

    pdu = remote_event(stack, room, latest(stack, room), "m.room.message", {"body": "hi"})
    remote = asyncio.create_task(stack.storage.pipeline.receive(pdu, V10, verify))
    await asyncio.sleep(0)
    # A local message sent while the remote event is being verified waits for it
    # and builds on it instead of forking.
    local = await stack.actions.send(ALICE, room, "m.room.message", {"body": "after"})
    received = await remote
    assert calls == [True]
    local_pdu = stack.storage.timeline.get(local)
    assert local_pdu is not None and local_pdu["prev_events"] == [received.event_id]
    assert len(stack.storage.locks) == 0


async def test_an_async_verify_that_refuses_changes_nothing(stack: Stack) -> None:
    room = await public_room_with_dave(stack)
    position = stack.db.current_count()

    async def verify(pdu: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        raise AuthError("bad signature")

    pdu = remote_event(stack, room, latest(stack, room), "m.room.message", {"body": "x"})
    with pytest.raises(AuthError, match="bad signature"):
        await stack.storage.pipeline.receive(pdu, V10, verify)
    assert stack.db.current_count() == position
    assert not stack.storage.timeline.exists(Event(pdu, V10).event_id)
    assert len(stack.storage.locks) == 0


async def test_one_transaction_sent_twice_at_once_makes_one_event(stack: Stack) -> None:
    slow(stack)
    room = await room_with_senders(stack)
    txn = Txn.send(str(SENDERS[0]), "DEVICE", str(room), "m.room.message", "t1")
    before = len(timeline(stack, room))
    first, second = await asyncio.gather(
        *(
            stack.actions.send(SENDERS[0], room, "m.room.message", {"body": "once"}, txn=txn)
            for _ in range(2)
        )
    )
    assert first == second
    assert len(timeline(stack, room)) == before + 1


async def test_two_creations_of_one_custom_room_id_make_one_room(stack: Stack) -> None:
    slow(stack)
    results = await asyncio.gather(
        *(stack.actions.create_room(ALICE, CreateRoom(room_id="twice")) for _ in range(2)),
        return_exceptions=True,
    )
    room_id = f"!twice:{SERVER}"
    assert results[0] == room_id
    assert isinstance(results[1], MatrixError) and results[1].errcode == "M_ROOM_IN_USE"
    creates = [p for _, p in timeline(stack, RoomId.parse(room_id)) if p["type"] == "m.room.create"]
    assert len(creates) == 1
    assert len(stack.storage.locks) == 0


async def test_a_remote_merge_of_a_fork_resolves_its_state_before(stack: Stack) -> None:
    """Two prev_events with different states: state_before resolves them (in a
    worker thread) while the room stays locked and local sends wait."""
    room = await public_room_with_dave(stack)
    fork_point = latest(stack, room)
    topic = await stack.actions.send(ALICE, room, "m.room.topic", {"topic": "alice's"}, "")
    name = remote_event(stack, room, fork_point, "m.room.name", {"name": "dave's"}, "")
    await stack.storage.pipeline.receive(name, V10, no_verify)
    name_id = Event(name, V10).event_id
    merge = remote_event(stack, room, name_id, "m.room.message", {"body": "merge"})
    merge = {k: v for k, v in merge.items() if k not in ("hashes", "signatures")}
    merge["prev_events"] = [topic, name_id]
    merge = hash_and_sign_event(merge, REMOTE, REMOTE_KEY, V10)
    receiving = asyncio.create_task(stack.storage.pipeline.receive(merge, V10, no_verify))
    await asyncio.sleep(0)
    local = await stack.actions.send(ALICE, room, "m.room.message", {"body": "after"})
    merged = await receiving
    state = stack.storage.state
    before = state.hash_before(merged.event_id)
    assert before is not None
    assert state.content_at(before, "m.room.topic") == {"topic": "alice's"}
    assert state.content_at(before, "m.room.name") == {"name": "dave's"}
    local_pdu = stack.storage.timeline.get(local)
    assert local_pdu is not None and local_pdu["prev_events"] == [merged.event_id]
    assert len(stack.storage.locks) == 0
