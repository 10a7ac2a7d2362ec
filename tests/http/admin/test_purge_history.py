"""Synapse's Purge History API: a room's timeline before an event (or a time) goes —
remote messages deleted, state and (unless ``delete_local_events``) local messages
kept out of the timeline — the room goes on, pagination stops at the cut without
error; the status endpoint; refusals for non-admins and bad input, unchanged."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from conduwuit.db import MAPS
from conduwuit.db.codec import u64
from conduwuit.service.rooms import purge
from tests.http.admin.test_users import ok
from tests.kit.homeserver import Homeserver, StartHomeserver
from tests.kit.remote import RemoteServer, federating_homeserver, remote_server, write_ca

V1 = "/_synapse/admin/v1"
CAROL = "@carol:test.example"
_txn = itertools.count()


@dataclass
class Room:
    hs: Homeserver
    remote: RemoteServer
    admin: str
    alice: str
    room_id: str
    bob: str
    #: Event IDs by name, in the order sent.
    events: dict[str, str]


async def send(hs: Homeserver, token: str, room: str, body: str, **content: Any) -> str:
    path = f"/rooms/{room}/send/m.room.message/t{next(_txn)}"
    reply = await ok(hs, "PUT", path, token, {"msgtype": "m.text", "body": body, **content})
    return str(reply["event_id"])


async def remote_send(room: Room, body: str, **content: Any) -> str:
    """A message of the remote bob, received through the pipeline as over /send."""
    storage = room.hs.services.rooms.storage
    rv = storage.state.room_version(room.room_id)
    assert rv is not None
    pdu = room.remote.event(
        room.hs, room.room_id, "m.room.message", room.bob, {"body": body, **content}
    )
    checks = room.hs.services.federation.pdu_signatures

    async def verify(p: dict[str, Any]) -> None:
        await checks.check(p, rv)

    return (await storage.pipeline.receive(pdu, rv, verify)).event_id


@pytest.fixture
async def room(start: StartHomeserver, tmp_path: Path) -> AsyncIterator[Room]:
    """alice's room with carol, who reads nothing, and the remote bob: alice's "old",
    bob's "remote old" and his reaction to "old", a topic, alice's "cut", bob's and
    alice's "after"."""
    ca = trustme.CA()
    hs = await federating_homeserver(start, write_ca(ca, tmp_path))
    admin = (await hs.register("admin"))["access_token"]
    alice = (await hs.register("alice"))["access_token"]
    carol = (await hs.register("carol"))["access_token"]
    async with remote_server(ca, 2, hs.clock) as remote:
        room_id = (await ok(hs, "POST", "/createRoom", alice, {"preset": "public_chat"}))["room_id"]
        await ok(hs, "POST", f"/join/{room_id}", carol, {})
        bob = remote.user("bob")
        await remote.join(hs, room_id, "bob")
        r = Room(hs, remote, admin, alice, room_id, bob, {})
        r.events["old"] = await send(hs, alice, room_id, "old words")
        r.events["remote old"] = await remote_send(r, "remote zebra")
        relates = {"rel_type": "m.annotation", "event_id": r.events["old"], "key": "+1"}
        storage = hs.services.rooms.storage
        rv = storage.state.room_version(room_id)
        assert rv is not None
        reaction = remote.event(hs, room_id, "m.reaction", bob, {"m.relates_to": relates})
        checks = hs.services.federation.pdu_signatures

        async def verify(p: dict[str, Any]) -> None:
            await checks.check(p, rv)

        r.events["reaction"] = (await storage.pipeline.receive(reaction, rv, verify)).event_id
        topic = await ok(hs, "PUT", f"/rooms/{room_id}/state/m.room.topic", alice, {"topic": "T"})
        r.events["topic"] = topic["event_id"]
        hs.clock.advance(60_000)
        r.events["cut"] = await send(hs, alice, room_id, "cut here")
        r.events["remote after"] = await remote_send(r, "remote giraffe")
        r.events["after"] = await send(hs, alice, room_id, "after words")
        yield r


async def purged(room: Room, path: str, body: dict[str, Any]) -> str:
    """Start a purge, wait until it is done; its purge ID."""
    purge_id = str((await ok(room.hs, "POST", V1 + path, room.admin, body))["purge_id"])
    status_path = f"{V1}/purge_history_status/{purge_id}"
    for _ in range(200):
        status = await ok(room.hs, "GET", status_path, room.admin)
        if status["status"] != "active":
            break
        await asyncio.sleep(0.01)
    assert status == {"status": "complete"}
    return purge_id


async def timeline_back(room: Room, token: str) -> list[str]:
    """Every event /messages pages back through, newest first (it must end)."""
    found: list[str] = []
    params: dict[str, str] = {"dir": "b", "limit": "3"}
    for _ in range(20):
        reply = await ok(room.hs, "GET", f"/rooms/{room.room_id}/messages", token, **params)
        found += [e["event_id"] for e in reply["chunk"]]
        if "end" not in reply:
            return found
        params["from"] = reply["end"]
    raise AssertionError("pagination did not end")


def in_timeline(room: Room, event_id: str) -> bool:
    return room.hs.services.rooms.storage.timeline.get_timeline(event_id) is not None


def stored(room: Room, event_id: str) -> bool:
    return room.hs.services.rooms.storage.timeline.get(event_id) is not None


async def test_purge_up_to_an_event_keeps_state_and_local_events(room: Room) -> None:
    hs, events = room.hs, room.events
    notifications = hs.services.push.notifications
    # Each message notified carol: 5 unread. bob's reaction relates to "old".
    assert notifications.room_counts(CAROL, room.room_id).total.notifications == 5
    old_short = hs.services.rooms.storage.short.event(events["old"])
    assert old_short is not None
    relations = hs.services.db.map(MAPS.tofrom_relation)
    assert len(list(relations.iter_prefix(u64(old_short)))) == 1
    await purged(room, f"/purge_history/{room.room_id}/{events['cut']}", {})

    # Pagination shows the cut and what follows, then ends without error.
    assert await timeline_back(room, room.alice) == [
        events["after"],
        events["remote after"],
        events["cut"],
    ]
    # bob's older message and reaction are gone; alice's message and the topic are
    # kept out of the timeline (Synapse's outliers); the state is whole.
    for name in ("remote old", "reaction"):
        assert not stored(room, events[name]), name
        status, reply = await hs.request(
            "GET", f"/rooms/{room.room_id}/event/{events[name]}", token=room.alice
        )
        assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
        status, reply = await hs.request(
            "GET", f"/rooms/{room.room_id}/context/{events[name]}", token=room.alice
        )
        assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
    for name in ("old", "topic"):
        assert stored(room, events[name]) and not in_timeline(room, events[name]), name
    state = await ok(hs, "GET", f"/rooms/{room.room_id}/state/m.room.topic", room.alice)
    assert state == {"topic": "T"}
    # The reaction's relation went with it; the search index forgot bob's words.
    assert list(relations.iter_prefix(u64(old_short))) == []
    for word, expected in (("zebra", 0), ("giraffe", 1)):
        body = {"search_categories": {"room_events": {"search_term": word}}}
        reply = await ok(hs, "POST", "/search", room.alice, body)
        assert reply["search_categories"]["room_events"]["count"] == expected, word
    # The purged span's notifications are no longer unread; the cut's and later are.
    assert notifications.room_counts(CAROL, room.room_id).total.notifications == 3
    # The room goes on: a new message, a fresh /sync.
    new = await send(hs, room.alice, room.room_id, "new")
    sync = await ok(hs, "GET", "/sync", room.alice)
    timeline = sync["rooms"]["join"][room.room_id]["timeline"]
    assert [e["event_id"] for e in timeline["events"]][-1] == new
    assert (await timeline_back(room, room.alice))[:2] == [new, events["after"]]
    # The intent is gone once done.
    assert hs.services.admin_api.history.intents() == []


async def test_delete_local_events_and_purge_up_to_a_time(room: Room) -> None:
    hs, events = room.hs, room.events
    # The newest event sent before the time is the cut: the topic (sent a minute
    # before "cut"), so "old" and bob's events go, the topic stays in the timeline.
    before = hs.clock() - 30_000
    body = {"purge_up_to_ts": before, "delete_local_events": True}
    await purged(room, f"/purge_history/{room.room_id}", body)
    assert not stored(room, events["old"]) and not stored(room, events["remote old"])
    assert await timeline_back(room, room.alice) == [
        events["after"],
        events["remote after"],
        events["cut"],
        events["topic"],
    ]
    # The room's state events before the cut are kept, out of the timeline.
    create = hs.services.rooms.storage.state.event_id_at(
        hs.services.rooms.storage.state.current_hash(room.room_id), "m.room.create", ""
    )
    assert create is not None and stored(room, create) and not in_timeline(room, create)
    # A purge ID in the body's spelling, up to an event.
    body = {"purge_up_to_event_id": events["after"]}
    await purged(room, f"/purge_history/{room.room_id}", body)
    assert await timeline_back(room, room.alice) == [events["after"]]


async def test_refusals_change_nothing(room: Room) -> None:
    hs, events, rid = room.hs, room.events, room.room_id
    other = (await ok(hs, "POST", "/createRoom", room.alice, {}))["room_id"]
    path = f"{V1}/purge_history/{rid}/{events['cut']}"
    status, reply = await hs.request("POST", path, {})
    assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")
    status, reply = await hs.request("POST", path, {}, token=room.alice)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    status, reply = await hs.request("GET", f"{V1}/purge_history_status/anything", token=room.alice)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    for target, body, expected in (
        (f"{rid}", {}, (400, "M_BAD_JSON")),
        (f"{rid}", {"purge_up_to_ts": "soon"}, (400, "M_BAD_JSON")),
        (f"{rid}", {"purge_up_to_ts": 5}, (404, "M_NOT_FOUND")),
        (f"{rid}/{events['cut']}", {"delete_local_events": "yes"}, (400, "M_BAD_JSON")),
        (f"{rid}/$unknown", {}, (404, "M_NOT_FOUND")),
        (f"{rid}/not-an-event", {}, (400, "M_INVALID_PARAM")),
        (f"{other}/{events['cut']}", {}, (400, "M_INVALID_PARAM")),
        (f"!unknown:test.example/{events['cut']}", {}, (404, "M_NOT_FOUND")),
        (f"not-a-room/{events['cut']}", {}, (400, "M_INVALID_PARAM")),
    ):
        status, reply = await hs.request(
            "POST", f"{V1}/purge_history/{target}", body, token=room.admin
        )
        assert (status, reply["errcode"]) == expected, (target, body)
    status, reply = await hs.request("GET", f"{V1}/purge_history_status/nope", token=room.admin)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
    # Nothing was purged.
    assert all(in_timeline(room, e) for e in events.values())
    assert hs.services.admin_api.history.intents() == []


async def test_one_purge_at_a_time_and_resumed_after_a_stop(room: Room) -> None:
    hs, events, rid = room.hs, room.events, room.room_id
    history = hs.services.admin_api.history
    path = f"{V1}/purge_history/{rid}/{events['cut']}"
    # While the room's lock is held, the purge waits: a second one is refused.
    async with hs.services.rooms.storage.locks.hold(rid):
        purge_id = (await ok(hs, "POST", path, room.admin, {}))["purge_id"]
        assert await ok(hs, "GET", f"{V1}/purge_history_status/{purge_id}", room.admin) == {
            "status": "active"
        }
        status, reply = await hs.request("POST", path, {}, token=room.admin)
        assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")
        # The server stops before the purge could begin: the intent stays.
        await history.stop()
    assert [i.purge_id for i in history.intents()] == [purge_id]
    assert in_timeline(room, events["remote old"])
    # At the next start it resumes under its ID and finishes.
    history.start()
    for _ in range(200):
        if history.intents() == []:
            break
        await asyncio.sleep(0.01)
    assert await ok(hs, "GET", f"{V1}/purge_history_status/{purge_id}", room.admin) == {
        "status": "complete"
    }
    assert not stored(room, events["remote old"])
    assert await timeline_back(room, room.alice) == [
        events["after"],
        events["remote after"],
        events["cut"],
    ]


async def test_deleting_the_room_ends_a_pending_history_purge(
    room: Room, monkeypatch: pytest.MonkeyPatch
) -> None:
    hs, rid = room.hs, room.room_id
    # This kit runs no federation sender: the room purge need not wait for its queue.
    monkeypatch.setattr(purge, "QUEUE_WAIT_S", 0.1)
    history = hs.services.admin_api.history
    async with hs.services.rooms.storage.locks.hold(rid):
        await ok(hs, "POST", f"{V1}/purge_history/{rid}/{room.events['cut']}", room.admin, {})
        await history.stop()
    assert len(history.intents()) == 1
    await ok(hs, "DELETE", f"{V1}/rooms/{rid}", room.admin, {"force_purge": True})
    # The room purge took the history purge's record with it: nothing resumes.
    assert history.intents() == []
    assert list(hs.services.db.map(MAPS.roomid_purge).iter_prefix(b"")) == []


async def threads(room: Room) -> list[str]:
    path = f"/_matrix/client/v1/rooms/{room.room_id}/threads"
    reply = await ok(room.hs, "GET", path, room.alice)
    return [e["event_id"] for e in reply["chunk"]]


async def test_threads_that_lose_their_replies_leave_the_thread_list(room: Room) -> None:
    hs, rid = room.hs, room.room_id
    storage = hs.services.rooms.storage
    rv = storage.state.room_version(rid)
    assert rv is not None
    latest = hs.services.db.map(MAPS.threadroot_latest)
    # A root bob sends after a reply to it arrived (a reply relating to an event
    # not seen yet, as over federation), the reply before the cut, the root after.
    root_pdu = room.remote.event(hs, rid, "m.room.message", room.bob, {"body": "late root"})
    root = room.remote.event_id(root_pdu, rv)
    in_thread = {"m.relates_to": {"rel_type": "m.thread", "event_id": root}}
    early = await remote_send(room, "early reply", **in_thread)
    # A thread wholly before the cut: alice's root (kept out of the timeline) and
    # bob's reply (deleted).
    old_root = await send(hs, room.alice, rid, "old root")
    old_reply = await remote_send(
        room, "old reply", **{"m.relates_to": {"rel_type": "m.thread", "event_id": old_root}}
    )
    cut = await send(hs, room.alice, rid, "second cut")
    checks = hs.services.federation.pdu_signatures

    async def verify(p: dict[str, Any]) -> None:
        await checks.check(p, rv)

    assert (await storage.pipeline.receive(root_pdu, rv, verify)).event_id == root
    assert await threads(room) == [old_root, root]
    await purged(room, f"/purge_history/{rid}", {"purge_up_to_event_id": cut})
    assert not stored(room, early) and not stored(room, old_reply)
    # Neither thread has a reply left in the timeline: both leave the list, and no
    # record points at a purged reply.
    assert await threads(room) == []
    assert latest.get(root.encode()) is None and latest.get(old_root.encode()) is None
    event = await ok(hs, "GET", f"/rooms/{rid}/event/{root}", room.alice)
    assert "m.thread" not in event.get("unsigned", {}).get("m.relations", {})
    # A new reply puts the thread back, at that reply.
    reply = await send(hs, room.alice, rid, "new reply", **in_thread)
    assert await threads(room) == [root]
    position = storage.timeline.get_timeline(reply)
    assert position is not None and latest.get(root.encode()) == u64(position[0])


async def test_a_thread_keeps_its_place_at_the_newest_reply_left(room: Room) -> None:
    hs, rid = room.hs, room.room_id
    storage = hs.services.rooms.storage
    rv = storage.state.room_version(rid)
    assert rv is not None
    root_pdu = room.remote.event(hs, rid, "m.room.message", room.bob, {"body": "late root"})
    root = room.remote.event_id(root_pdu, rv)
    in_thread = {"m.relates_to": {"rel_type": "m.thread", "event_id": root}}
    early = await remote_send(room, "early reply", **in_thread)
    cut = await send(hs, room.alice, rid, "second cut")
    checks = hs.services.federation.pdu_signatures

    async def verify(p: dict[str, Any]) -> None:
        await checks.check(p, rv)

    await storage.pipeline.receive(root_pdu, rv, verify)
    kept = await send(hs, room.alice, rid, "kept reply", **in_thread)
    other = await send(hs, room.alice, rid, "another thread")
    await send(
        hs,
        room.alice,
        rid,
        "its reply",
        **{"m.relates_to": {"rel_type": "m.thread", "event_id": other}},
    )
    await purged(room, f"/purge_history/{rid}", {"purge_up_to_event_id": cut})
    assert not stored(room, early)
    assert await threads(room) == [other, root]
    position = storage.timeline.get_timeline(kept)
    assert position is not None
    latest = hs.services.db.map(MAPS.threadroot_latest)
    assert latest.get(root.encode()) == u64(position[0])
    event = await ok(hs, "GET", f"/rooms/{rid}/event/{root}", room.alice)
    summary = event["unsigned"]["m.relations"]["m.thread"]
    assert (summary["latest_event"]["event_id"], summary["count"]) == (kept, 1)


def unreferenced_snapshots(hs: Homeserver) -> dict[int, int]:
    """Every stored state snapshot neither an event's state nor a room's current
    state refers to (directly or as a parent in their diff chains), with its size in
    bytes (diff record and dedup digest, keys and values)."""
    db = hs.services.db
    diffs = {k: v for k, v in db.map(MAPS.shortstatehash_statediff).iter_prefix(b"")}
    digests = {
        v: len(k) + len(v) for k, v in db.map(MAPS.statehash_shortstatehash).iter_prefix(b"")
    }
    roots = [v for _, v in db.map(MAPS.shorteventid_shortstatehash).iter_prefix(b"")]
    roots += [v for _, v in db.map(MAPS.roomid_shortstatehash).iter_prefix(b"")]
    reached: set[bytes] = set()
    for snapshot in roots:
        while snapshot in diffs and snapshot not in reached:
            reached.add(snapshot)
            snapshot = diffs[snapshot][:8]
    return {
        int.from_bytes(k, "big"): len(k) + len(v) + digests.get(k, 0)
        for k, v in diffs.items()
        if k not in reached
    }


async def test_state_snapshots_left_unreferenced_by_a_purge(room: Room) -> None:
    """What docs/admin-api.md says of the snapshots a purge leaves: none in a history
    without forks; one for a branch of a merge in the purged span whose state only
    deleted events had (and that no kept snapshot builds on): 128 bytes here."""
    hs, rid = room.hs, room.room_id
    assert unreferenced_snapshots(hs) == {}
    # The fixture's history has no fork: its purge leaves every snapshot referred to.
    await purged(room, f"/purge_history/{rid}", {"purge_up_to_event_id": room.events["cut"]})
    assert unreferenced_snapshots(hs) == {}
    # A fork: bob renames himself on one branch and speaks; dave, on the other,
    # renames himself; alice's next message merges both.
    storage = hs.services.rooms.storage
    rv = storage.state.room_version(rid)
    assert rv is not None
    await room.remote.join(hs, rid, "dave")
    dave = room.remote.user("dave")
    checks = hs.services.federation.pdu_signatures

    async def verify(p: dict[str, Any]) -> None:
        await checks.check(p, rv)

    short = storage.short.room(rid)
    assert short is not None
    fork = storage.extremities.get(short)
    renames = []
    for user in (room.bob, dave):
        content = {"membership": "join", "displayname": user[1:5]}
        pdu = room.remote.event(
            hs, rid, "m.room.member", user, content, state_key=user, prev_events=fork
        )
        renames.append((await storage.pipeline.receive(pdu, rv, verify)).event_id)
    for user, rename in zip((room.bob, dave), renames, strict=True):
        spoken = room.remote.event(
            hs, rid, "m.room.message", user, {"body": "on a branch"}, prev_events=[rename]
        )
        await storage.pipeline.receive(spoken, rv, verify)
    await send(hs, room.alice, rid, "merge")
    cut = await send(hs, room.alice, rid, "third cut")
    assert unreferenced_snapshots(hs) == {}
    await purged(room, f"/purge_history/{rid}", {"purge_up_to_event_id": cut})
    # The merge's state (both renames) builds on bob's branch's; dave's branch's state
    # (after his rename) was the state of his message alone, which is deleted: one
    # snapshot is left, a two-entry diff (8-byte key; parent, count, 2 x 16 bytes)
    # and its digest (64 + 8 bytes).
    assert list(unreferenced_snapshots(hs).values()) == [8 + 8 + 8 + 2 * 16 + 64 + 8]
