"""Concurrent PUT /send from several users into one room: every message once, one
linear timeline in the order each client sent, one event per transaction."""

from __future__ import annotations

import asyncio
from itertools import pairwise

from tests.kit.homeserver import Homeserver
from tests.service.rooms.test_pipeline_order import SlowPipeline

from .conftest import Users

USERS = 5
MESSAGES = 10


async def test_concurrent_sends_make_one_ordered_timeline(hs: Homeserver, users: Users) -> None:
    # An await between building and persisting each event (as federation will have)
    # makes the requests really overlap inside the pipeline.
    storage = hs.services.rooms.storage
    old = storage.pipeline
    storage.pipeline = SlowPipeline(
        storage.db, storage.state, old.builder, old.persister, storage.locks
    )
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    senders = [await users.add(f"user{i}") for i in range(USERS)]
    for sender in senders:
        await users.ok(sender, "POST", f"/rooms/{room}/join", {})

    async def send(sender: str) -> list[str]:
        ids = []
        for n in range(MESSAGES):
            path = f"/rooms/{room}/send/m.room.message/t{n}"
            body = {"msgtype": "m.text", "body": f"{sender} {n}"}
            # The same transaction twice at once: one event, the same ID twice.
            first, again = await asyncio.gather(
                users.ok(sender, "PUT", path, body), users.ok(sender, "PUT", path, body)
            )
            assert first == again
            ids.append(first["event_id"])
        return ids

    sent = await asyncio.wait_for(asyncio.gather(*(send(s) for s in senders)), 60)

    page = await users.ok(alice, "GET", f"/rooms/{room}/messages", dir="f", limit="1000")
    events = page["chunk"]
    messages = [e for e in events if e["type"] == "m.room.message"]
    assert len(messages) == USERS * MESSAGES == len({e["event_id"] for e in messages})
    for sender, ids in zip(senders, sent, strict=True):
        assert [e["event_id"] for e in messages if e["sender"] == sender] == ids
    # Linear: each event's one prev_event is the event before it.
    for prev, event in pairwise(events):
        pdu = storage.timeline.get(event["event_id"])
        assert pdu is not None and pdu["prev_events"] == [prev["event_id"]]
    assert len(storage.locks) == 0
