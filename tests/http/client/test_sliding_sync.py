"""Simplified Sliding Sync (MSC4186): lists, ranges, ordering, incremental updates,
room metadata, invites and leaves, long-polling and M_UNKNOWN_POS."""

from __future__ import annotations

import asyncio
from typing import Any

from conduwuit.service.sliding_sync.connections import IDLE_S
from tests.kit.homeserver import Homeserver

from .sliding_kit import PATH, a_list, bodies, hs, sliding

__all__ = ["hs"]
from .test_sync import _room, _send, _user


async def test_a_list_orders_rooms_by_their_last_message_and_counts_them(
    hs: Homeserver,
) -> None:
    _, token = await _user(hs, "alice")
    rooms = [await _room(hs, token, name=f"room {i}") for i in range(3)]
    await _send(hs, token, rooms[0], "newest", "t0")
    reply = await sliding(hs, token, {"lists": {"all": a_list(1, timeline_limit=2)}})
    assert reply["lists"] == {"all": {"count": 3}}
    assert list(reply["rooms"]) == [rooms[0], rooms[2]]
    first = reply["rooms"][rooms[0]]
    assert first["initial"] is True
    assert first["name"] == "room 0"
    assert bodies(first) == ["newest"]
    assert len(first["timeline"]) == 2
    assert first["limited"] is True
    assert first["num_live"] == 0
    assert first["joined_count"] == 1 and first["invited_count"] == 0
    assert first["notification_count"] == 0 and first["highlight_count"] == 0
    assert first["bump_stamp"] > reply["rooms"][rooms[2]]["bump_stamp"]
    assert first["required_state"] == []
    assert isinstance(first["prev_batch"], str)
    assert "is_dm" not in first
    # The prev_batch paginates the history before the timeline.
    status, page = await hs.request(
        "GET",
        f"/rooms/{rooms[0]}/messages",
        token=token,
        params={"dir": "b", "from": first["prev_batch"], "limit": "50"},
    )
    assert status == 200 and page["chunk"]
    timeline_ids = {e["event_id"] for e in first["timeline"]}
    assert not timeline_ids & {e["event_id"] for e in page["chunk"]}


async def test_a_new_message_bumps_its_room_and_only_it_comes_down(hs: Homeserver) -> None:
    _, token = await _user(hs, "alice")
    old, new = await _room(hs, token), await _room(hs, token)
    body = {"lists": {"all": a_list(0)}}
    first = await sliding(hs, token, body)
    assert list(first["rooms"]) == [new]
    quiet = await sliding(hs, token, body, pos=first["pos"])
    assert quiet["rooms"] == {} and quiet["lists"] == {"all": {"count": 2}}
    await _send(hs, token, old, "wake up", "t1")
    second = await sliding(hs, token, body, pos=quiet["pos"])
    assert list(second["rooms"]) == [old]
    room = second["rooms"][old]
    # The client never had this room (out of range before): it comes whole.
    assert room["initial"] is True
    assert bodies(room) == ["wake up"]
    await _send(hs, token, old, "again", "t2")
    third = await sliding(hs, token, body, pos=second["pos"])
    room = third["rooms"][old]
    assert "initial" not in room
    assert bodies(room) == ["again"] and room["num_live"] == 1 and room["limited"] is False
    assert "name" not in room and "joined_count" not in room
    assert room["bump_stamp"] > second["rooms"][old]["bump_stamp"]


async def test_incremental_long_poll_waits_for_a_message(hs: Homeserver) -> None:
    _, token = await _user(hs, "alice")
    room = await _room(hs, token)
    body = {"lists": {"all": a_list()}}
    first = await sliding(hs, token, body)
    waiting = asyncio.ensure_future(sliding(hs, token, body, pos=first["pos"], timeout_ms=10000))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await _send(hs, token, room, "hello", "t1")
    reply = await asyncio.wait_for(waiting, 5)
    assert bodies(reply["rooms"][room]) == ["hello"]
    # With nothing new it answers empty once the timeout passes, with a usable pos.
    empty = await sliding(hs, token, body, pos=reply["pos"], timeout_ms=100)
    assert empty["rooms"] == {}
    await sliding(hs, token, body, pos=empty["pos"])


async def test_unknown_pos_is_m_unknown_pos(hs: Homeserver) -> None:
    _, token = await _user(hs, "alice")
    body = {"conn_id": "main", "lists": {"all": a_list()}}
    for pos in ("garbage", "99_1", "1_999999999"):
        reply = await sliding(hs, token, body, pos=pos, status=400)
        assert reply["errcode"] == "M_UNKNOWN_POS"
    first = await sliding(hs, token, body)
    # Another connection's position is not this one's.
    other = await sliding(hs, token, {**body, "conn_id": "other"}, pos=first["pos"], status=400)
    assert other["errcode"] == "M_UNKNOWN_POS"
    # A retried position answers again; an older one, replaced twice, is gone.
    room = await _room(hs, token)
    second = await sliding(hs, token, body, pos=first["pos"])
    retried = await sliding(hs, token, body, pos=first["pos"])
    assert list(retried["rooms"]) == list(second["rooms"]) == [room]
    await _send(hs, token, room, "one", "t1")
    # The client goes on from the retried answer: the first answer's position is gone.
    third = await sliding(hs, token, body, pos=retried["pos"])
    lost = await sliding(hs, token, body, pos=second["pos"], status=400)
    assert lost["errcode"] == "M_UNKNOWN_POS"
    await _send(hs, token, room, "two", "t2")
    await sliding(hs, token, body, pos=third["pos"])
    gone = await sliding(hs, token, body, pos=first["pos"], status=400)
    assert gone["errcode"] == "M_UNKNOWN_POS"
    # Starting over without pos replaces the connection.
    restarted = await sliding(hs, token, body)
    assert (await sliding(hs, token, body, pos=third["pos"], status=400))["errcode"] == (
        "M_UNKNOWN_POS"
    )
    await sliding(hs, token, body, pos=restarted["pos"])


async def test_idle_connections_expire(hs: Homeserver) -> None:
    _, token = await _user(hs, "alice")
    connections = hs.services.sliding_sync.connections
    now = [1000.0]
    connections._clock = lambda: now[0]
    first = await sliding(hs, token, {"lists": {"all": a_list()}})
    assert connections.stats()["connections"] == 1
    now[0] += IDLE_S + 1
    reply = await sliding(hs, token, {"lists": {"all": a_list()}}, pos=first["pos"], status=400)
    assert reply["errcode"] == "M_UNKNOWN_POS"
    assert connections.stats()["connections"] == 0


async def test_bad_requests_are_refused(hs: Homeserver) -> None:
    _, token = await _user(hs, "alice")
    cases = [
        ({"lists": {"a": {"ranges": [[0, 1]], "timeline_limit": 1}}}, "M_MISSING_PARAM"),
        ({"lists": {"a": {**a_list(), "ranges": [[5, 1]]}}}, "M_BAD_JSON"),
        ({"lists": {"a": {**a_list(), "ranges": [[-1, 1]]}}}, "M_BAD_JSON"),
        ({"lists": {"a": {**a_list(), "required_state": [["m.room.name"]]}}}, "M_BAD_JSON"),
        ({"lists": {"a": {**a_list(), "timeline_limit": "5"}}}, "M_BAD_JSON"),
        ({"room_subscriptions": {"!r:x": {"required_state": []}}}, "M_MISSING_PARAM"),
        ({"lists": {"a": a_list(is_dm="yes")}}, "M_BAD_JSON"),
    ]
    for body, errcode in cases:
        reply = await sliding(hs, token, body, status=400)
        assert reply["errcode"] == errcode, (body, reply)
    assert hs.services.sliding_sync.connections.stats()["connections"] == 0
    status, reply = await hs.request("POST", PATH, {})
    assert status == 401


async def test_an_abandoned_long_poll_does_not_invalidate_the_clients_position(
    hs: Homeserver,
) -> None:
    """matrix-rust-sdk drops a long-poll when it changes its lists and asks again from
    the same ``pos``; the dropped request still ends on the server, later."""
    _, token = await _user(hs, "alice")
    room, other = await _room(hs, token), await _room(hs, token)
    body: dict[str, Any] = {"lists": {"all": a_list(0)}}
    first = await sliding(hs, token, body)
    abandoned = asyncio.ensure_future(sliding(hs, token, body, pos=first["pos"], timeout_ms=5000))
    await asyncio.sleep(0.2)
    wider = {"lists": {"all": a_list(1)}}
    changed = await sliding(hs, token, wider, pos=first["pos"])
    assert room in changed["rooms"]
    await _send(hs, token, other, "wakes the abandoned one", "t1")
    await asyncio.wait_for(abandoned, 5)
    await _send(hs, token, room, "for the client", "t2")
    after = await sliding(hs, token, wider, pos=changed["pos"])
    assert bodies(after["rooms"][room]) == ["for the client"]
