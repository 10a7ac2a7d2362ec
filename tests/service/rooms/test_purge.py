"""The room purge: every map has a rule; after a purge no map holds a row of the
room (found generically: its room ID, event IDs or short IDs anywhere in any map),
other rooms and the users' own data are untouched; a purge cut short resumes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conduwuit.db import ALL_MAPS, MAPS
from conduwuit.db.codec import from_u64, u64
from conduwuit.db.state_diff import decode as decode_diff
from conduwuit.service.rooms import purge
from conduwuit.service.rooms.purge_rules import ROW_MATCHES, RULES, Kind
from tests.http.admin.test_rooms import wait_for
from tests.http.admin.test_users import ok
from tests.kit.homeserver import Homeserver, start_homeserver

V1 = "/_synapse/admin/v1/rooms"
V2 = "/_synapse/admin/v2/rooms"
ALICE = "@alice:test.example"
BOB = "@bob:test.example"


def test_every_map_has_a_rule() -> None:
    """A new map must say whether a purge deletes its rows of a room."""
    assert set(RULES) == {spec.name for spec in ALL_MAPS}
    assert all(rule.why for rule in RULES.values())


def test_every_rule_is_carried_out() -> None:
    """The purge has a step for each map its rule says it deletes from."""

    def named(kind: Kind) -> set[str]:
        return {name for name, rule in RULES.items() if rule.kind is kind}

    events = (*purge.BY_EVENT_ID, *purge.BY_SHORT_EVENT, *purge.BY_EVENT_OTHER)
    assert named(Kind.EVENT) == {spec.name for spec in events}
    assert named(Kind.SCANNED) == set(ROW_MATCHES) | {spec.name for spec in purge.SWEPT}
    assert {spec.name for spec in purge.LAST} <= named(Kind.ROOM)
    companions = {MAPS.alias_userid.name, MAPS.userid_delayid.name, MAPS.duets_delayid.name}
    assert named(Kind.COMPANION) == companions


@dataclass
class Garden:
    hs: Homeserver
    admin: str
    alice: str
    bob: str
    room_id: str
    other_room: str


async def garden(hs: Homeserver, messages: int = 3) -> Garden:
    """A room with data in every kind of map: members, an alias in the directory,
    messages (searchable, notifying), a thread, a receipt, tags and room account
    data, a report, a scheduled (delayed) event, a user who left and forgot it; and
    another room, which must stay."""
    admin = (await hs.register("admin"))["access_token"]
    alice = (await hs.register("alice"))["access_token"]
    bob = (await hs.register("bob"))["access_token"]
    carol = (await hs.register("carol"))["access_token"]
    body = {"name": "Garden", "room_alias_name": "garden", "visibility": "public"}
    room = (await ok(hs, "POST", "/createRoom", alice, body))["room_id"]
    for token in (bob, carol):
        await ok(hs, "POST", f"/join/{room}", token, {})
    sent = []
    for n in range(messages):
        content = {"msgtype": "m.text", "body": f"hello garden {n}"}
        path = f"/rooms/{room}/send/m.room.message/t{n}"
        sent.append((await ok(hs, "PUT", path, bob, content))["event_id"])
    thread = {"msgtype": "m.text", "body": "in a thread"}
    thread["m.relates_to"] = {"rel_type": "m.thread", "event_id": sent[0]}  # type: ignore[assignment]
    await ok(hs, "PUT", f"/rooms/{room}/send/m.room.message/th", alice, thread)
    await ok(hs, "POST", f"/rooms/{room}/receipt/m.read/{sent[-1]}", alice, {})
    await ok(hs, "PUT", f"/user/{ALICE}/rooms/{room}/tags/u.work", alice, {"order": 0.5})
    await ok(hs, "PUT", f"/user/{ALICE}/rooms/{room}/account_data/org.example.r", alice, {"a": 1})
    await ok(hs, "PUT", f"/user/{ALICE}/account_data/org.example.mine", alice, {"keep": True})
    await ok(hs, "POST", f"/rooms/{room}/report/{sent[0]}", alice, {"reason": "rude"})
    status, reply = await hs.request(
        "PUT",
        f"/rooms/{room}/send/m.room.message/later",
        {"msgtype": "m.text", "body": "later"},
        token=alice,
        params={"org.matrix.msc4140.delay": "3600000"},
    )
    assert status == 200 and "delay_id" in reply, reply
    await ok(hs, "POST", f"/rooms/{room}/leave", carol, {})
    await ok(hs, "POST", f"/rooms/{room}/forget", carol, {})
    other = (await ok(hs, "POST", "/createRoom", alice, {"name": "Other"}))["room_id"]
    await ok(hs, "PUT", f"/rooms/{other}/send/m.room.message/o", alice, {"body": "stays"})
    return Garden(hs, admin, alice, bob, room, other)


@dataclass(frozen=True)
class Footprint:
    """What identifies a room's rows: its ID, its events' IDs and its short IDs."""

    room_id: str
    event_ids: frozenset[str]
    shorts: frozenset[int]


def footprint(hs: Homeserver, room_id: str) -> Footprint:
    db = hs.services.db
    short = hs.services.rooms.storage.short.room(room_id)
    assert short is not None
    events = {json.loads(v)["event_id"] for _, v in db.map(MAPS.pduid_pdu).iter_prefix(u64(short))}
    for k, v in db.map(MAPS.eventid_outlierpdu).iter_prefix(b""):
        if json.loads(v).get("room_id") == room_id:
            events.add(k.decode())
    shorts = {short}
    heads = [hs.services.rooms.storage.state.current_hash(room_id)]
    for event_id in events:
        se = db.map(MAPS.eventid_shorteventid).get(event_id.encode())
        assert se is not None
        shorts.add(from_u64(se))
        before = db.map(MAPS.shorteventid_shortstatehash).get(se)
        if before is not None:
            heads.append(from_u64(before))
    diffs = db.map(MAPS.shortstatehash_statediff)
    while heads:
        head = heads.pop()
        raw = diffs.get(u64(head)) if head else None
        if raw is None or head in shorts:
            continue
        parent, added, _ = decode_diff(raw)
        if parent or added:  # not the empty state rooms may share
            shorts.add(head)
            heads.append(parent)
    return Footprint(room_id, frozenset(events), frozenset(shorts))


def another_rooms_event(value: bytes, room_id: str) -> bool:
    """An event of another room (which may mention this one: the admin room's notice
    of a report does)."""
    try:
        decoded = json.loads(value)
    except ValueError:
        return False
    return isinstance(decoded, dict) and decoded.get("room_id") not in (None, room_id)


def leftovers(hs: Homeserver, room: Footprint) -> list[str]:
    """Every row of every map that still names the room, one of its events or one of
    its short IDs (keys start with short IDs; a digest's value is one)."""
    found = []
    marks = [room.room_id.encode(), *(e.encode() for e in room.event_ids)]
    shorts = {u64(s) for s in room.shorts}
    for spec in ALL_MAPS:
        for k, v in hs.services.db.map(spec).iter_prefix(b""):
            named = any(m in k for m in marks) or (
                any(m in v for m in marks) and not another_rooms_event(v, room.room_id)
            )
            if named or k[:8] in shorts or v in shorts:
                found.append(f"{spec.name}: {k[:60]!r} -> {v[:60]!r}")
    return found


def assert_purged(hs: Homeserver, room: Footprint) -> None:
    assert leftovers(hs, room) == []


@pytest.fixture
async def hs(tmp_path: Path) -> AsyncIterator[Homeserver]:
    server = await start_homeserver(tmp_path / "db")
    yield server
    await server.close()


async def test_purge_leaves_no_row_of_the_room(hs: Homeserver) -> None:
    g = await garden(hs)
    room = footprint(hs, g.room_id)
    other = footprint(hs, g.other_room)
    assert len(room.event_ids) > 10
    assert leftovers(hs, room)  # the check sees the room before

    reply = await ok(hs, "DELETE", f"{V1}/{g.room_id}", g.admin, {})
    assert reply["kicked_users"] == [ALICE, BOB]

    assert_purged(hs, room)
    assert footprint(hs, g.other_room) == other
    assert hs.services.admin_api.deletions.purger.intents() == []
    # The scheduled event went with its rows by user and by due time.
    for spec in (MAPS.userid_delayid, MAPS.duets_delayid):
        assert list(hs.services.db.map(spec).iter_prefix(b"")) == [], spec.name
    # The users' own data stays.
    mine = await ok(hs, "GET", f"/user/{ALICE}/account_data/org.example.mine", g.alice)
    assert mine == {"keep": True}
    # The room is unknown: like a room never seen.
    status, reply = await hs.request("GET", f"/rooms/{g.room_id}/messages", token=g.alice)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    status, reply = await hs.request("GET", f"{V1}/{g.room_id}", token=g.admin)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
    synced = await ok(hs, "GET", "/sync", g.alice)
    assert all(g.room_id not in synced["rooms"].get(k, {}) for k in ("join", "leave", "invite"))
    assert g.other_room in synced["rooms"]["join"]
    messages = await ok(hs, "GET", f"/rooms/{g.other_room}/messages?dir=b", g.alice)
    assert "stays" in [e["content"].get("body") for e in messages["chunk"]]
    # The room ID can be used again: a new room of the same ID would start afresh.
    assert hs.services.rooms.storage.short.room(g.room_id) is None


async def test_a_purge_cut_short_resumes_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped between two batches (as a kill between two writes would leave it), the
    purge resumes when the server starts again and deletes the rest."""
    monkeypatch.setattr(purge, "CHUNK", 4)
    first = await start_homeserver(tmp_path / "db")
    g = await garden(first, messages=30)
    room = footprint(first, g.room_id)
    deletions = first.services.admin_api.deletions
    delete_id = (await ok(first, "DELETE", f"{V2}/{g.room_id}", g.admin, {}))["delete_id"]
    # Bounded in time, not in turns of the loop: the members' leaves before the
    # purge take a few milliseconds each.
    deadline = asyncio.get_running_loop().time() + 30
    for _ in range(1_000_000):
        if deletions.purger.batches >= 5 or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0)
    assert deletions.purger.batches >= 5
    await first.close()  # stops the purge between two batches

    second = await start_homeserver(tmp_path / "db")
    try:
        deletions = second.services.admin_api.deletions
        [intent] = deletions.purger.intents()
        assert (intent.room_id, intent.delete_id, intent.phase) == (g.room_id, delete_id, "purging")
        assert leftovers(second, room)  # part of the room is still there
        # Half purged, the room reads as unknown (no reader meets a missing snapshot).
        listed = await ok(second, "GET", V1, g.admin)
        assert g.room_id not in [r["room_id"] for r in listed["rooms"]]
        status_code, _ = await second.request("GET", f"{V1}/{g.room_id}", token=g.admin)
        assert status_code == 404
        assert g.other_room in (await ok(second, "GET", "/sync", g.alice))["rooms"]["join"]
        # One purge of a room at a time.
        status_code, reply = await second.request("DELETE", f"{V2}/{g.room_id}", {}, token=g.admin)
        assert (status_code, reply["errcode"]) == (400, "M_INVALID_PARAM")
        deletions.start()
        status = await wait_for(second, g.admin, delete_id)
        assert (status["status"], status["room_id"]) == ("complete", g.room_id)
        assert_purged(second, room)
        assert deletions.purger.intents() == []
    finally:
        await second.close()
