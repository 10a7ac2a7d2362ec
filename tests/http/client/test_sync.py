"""GET /sync: initial and incremental, long-polling, filters, invites, leaves, ephemeral."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from tests.kit.homeserver import Homeserver

T = TypeVar("T")


async def _user(hs: Homeserver, name: str) -> tuple[str, str]:
    reply = await hs.register(name)
    return reply["user_id"], reply["access_token"]


async def _sync(hs: Homeserver, token: str, **params: str) -> dict[str, Any]:
    status, body = await hs.request("GET", "/sync", token=token, params=params or None)
    assert status == 200, body
    result: dict[str, Any] = body
    return result


async def _room(hs: Homeserver, token: str, **body: Any) -> str:
    status, reply = await hs.request("POST", "/createRoom", body, token=token)
    assert status == 200, reply
    room_id: str = reply["room_id"]
    return room_id


async def _send(hs: Homeserver, token: str, room: str, text: str, txn: str) -> str:
    status, reply = await hs.request(
        "PUT",
        f"/rooms/{room}/send/m.room.message/{txn}",
        {"msgtype": "m.text", "body": text},
        token=token,
    )
    assert status == 200, reply
    event_id: str = reply["event_id"]
    return event_id


def _bodies(section: dict[str, Any]) -> list[str]:
    return [
        e["content"]["body"] for e in section["timeline"]["events"] if e["type"] == "m.room.message"
    ]


async def test_initial_sync_has_room_state_and_timeline(hs: Homeserver) -> None:
    alice, token = await _user(hs, "alice")
    room = await _room(hs, token, name="Lounge")
    await _send(hs, token, room, "hello", "t1")
    body = await _sync(hs, token)
    assert body["next_batch"].startswith("s")
    joined = body["rooms"]["join"][room]
    assert _bodies(joined) == ["hello"]
    types = {e["type"] for e in joined["timeline"]["events"]} | {
        e["type"] for e in joined["state"]["events"]
    }
    assert {"m.room.create", "m.room.member", "m.room.power_levels", "m.room.name"} <= types
    # state and timeline never repeat an event
    ids = [e["event_id"] for e in joined["timeline"]["events"]]
    ids += [e["event_id"] for e in joined["state"]["events"]]
    assert len(ids) == len(set(ids))
    assert joined["summary"]["m.joined_member_count"] == 1
    for event in joined["timeline"]["events"]:
        assert "room_id" not in event and "hashes" not in event and "signatures" not in event
    mine = [e for e in joined["timeline"]["events"] if e["type"] == "m.room.message"]
    assert mine[0]["unsigned"]["transaction_id"] == "t1"
    assert alice


async def test_incremental_sync_only_has_new_events(hs: Homeserver) -> None:
    _, token = await _user(hs, "alice")
    room = await _room(hs, token)
    first = await _sync(hs, token)
    await _send(hs, token, room, "one", "a")
    await _send(hs, token, room, "two", "b")
    second = await _sync(hs, token, since=first["next_batch"])
    joined = second["rooms"]["join"][room]
    assert _bodies(joined) == ["one", "two"]
    assert joined["timeline"]["limited"] is False
    assert joined["state"]["events"] == []
    third = await _sync(hs, token, since=second["next_batch"])
    assert "join" not in third["rooms"]
    assert third["next_batch"] == second["next_batch"]


async def test_limited_timeline_and_prev_batch_paginates(hs: Homeserver) -> None:
    _, token = await _user(hs, "alice")
    room = await _room(hs, token)
    first = await _sync(hs, token)
    for i in range(6):
        await _send(hs, token, room, f"m{i}", f"t{i}")
    params = {
        "since": first["next_batch"],
        "filter": json.dumps({"room": {"timeline": {"limit": 2}}}),
    }
    joined = (await _sync(hs, token, **params))["rooms"]["join"][room]
    assert _bodies(joined) == ["m4", "m5"]
    assert joined["timeline"]["limited"] is True
    status, page = await hs.request(
        "GET",
        f"/rooms/{room}/messages",
        token=token,
        params={"from": joined["timeline"]["prev_batch"], "dir": "b", "limit": "2"},
    )
    assert status == 200, page
    assert [e["content"]["body"] for e in page["chunk"]] == ["m3", "m2"]


async def test_long_poll_wakes_on_message(hs: Homeserver) -> None:
    _, alice = await _user(hs, "alice")
    bob_id, bob = await _user(hs, "bob")
    room = await _room(hs, alice, invite=[bob_id])
    status, _ = await hs.request("POST", f"/join/{room}", {}, token=bob)
    assert status == 200
    since = (await _sync(hs, bob))["next_batch"]
    started = time.monotonic()
    waiting = asyncio.ensure_future(_sync(hs, bob, since=since, timeout="30000"))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await _send(hs, alice, room, "wake up", "w")
    body = await asyncio.wait_for(waiting, 10)
    assert time.monotonic() - started < 5
    assert _bodies(body["rooms"]["join"][room]) == ["wake up"]


async def test_long_poll_times_out_empty_with_same_token(hs: Homeserver) -> None:
    _, token = await _user(hs, "alice")
    await _room(hs, token)
    since = (await _sync(hs, token))["next_batch"]
    started = time.monotonic()
    body = await _sync(hs, token, since=since, timeout="300")
    assert time.monotonic() - started >= 0.25
    assert "join" not in body["rooms"]
    assert body["next_batch"] == since


async def test_invite_then_join_then_leave(hs: Homeserver) -> None:
    _, alice = await _user(hs, "alice")
    bob_id, bob = await _user(hs, "bob")
    since = (await _sync(hs, bob))["next_batch"]
    room = await _room(hs, alice, name="Secret", invite=[bob_id])
    body = await _sync(hs, bob, since=since)
    invite = body["rooms"]["invite"][room]["invite_state"]["events"]
    assert any(e["type"] == "m.room.member" and e["state_key"] == bob_id for e in invite)
    assert all("event_id" not in e for e in invite)
    since = body["next_batch"]
    status, _ = await hs.request("POST", f"/rooms/{room}/join", {}, token=bob)
    assert status == 200
    body = await _sync(hs, bob, since=since)
    joined = body["rooms"]["join"][room]
    # a newly joined room comes with its state (here all of it fits in the timeline)
    seen = {e["type"] for e in joined["state"]["events"] + joined["timeline"]["events"]}
    assert "m.room.create" in seen and "m.room.name" in seen
    assert room not in body["rooms"].get("invite", {})
    since = body["next_batch"]
    await _send(hs, alice, room, "before leave", "x")
    status, _ = await hs.request("POST", f"/rooms/{room}/leave", {}, token=bob)
    assert status == 200
    await _send(hs, alice, room, "after leave", "y")
    body = await _sync(hs, bob, since=since)
    left = body["rooms"]["leave"][room]
    assert _bodies(left) == ["before leave"]
    assert left["timeline"]["events"][-1]["type"] == "m.room.member"
    assert room not in body["rooms"].get("join", {})


async def test_account_data_and_filter_by_id(hs: Homeserver) -> None:
    alice, token = await _user(hs, "alice")
    since = (await _sync(hs, token))["next_batch"]
    status, _ = await hs.request(
        "PUT", f"/user/{alice}/account_data/org.example.colour", {"c": "red"}, token=token
    )
    assert status == 200
    body = await _sync(hs, token, since=since)
    assert {"type": "org.example.colour", "content": {"c": "red"}} in body["account_data"]["events"]
    status, created = await hs.request(
        "POST",
        f"/user/{alice}/filter",
        {"account_data": {"not_types": ["org.example.colour"]}},
        token=token,
    )
    assert status == 200
    body = await _sync(hs, token, since=since, filter=created["filter_id"])
    assert body["account_data"]["events"] == []


async def test_typing_and_receipts_in_ephemeral(hs: Homeserver) -> None:
    alice, token = await _user(hs, "alice")
    room = await _room(hs, token)
    event_id = await _send(hs, token, room, "read me", "r")
    since = (await _sync(hs, token))["next_batch"]
    status, _ = await hs.request(
        "PUT", f"/rooms/{room}/typing/{alice}", {"typing": True, "timeout": 20000}, token=token
    )
    assert status == 200
    status, _ = await hs.request(
        "POST", f"/rooms/{room}/receipt/m.read/{event_id}", {}, token=token
    )
    assert status == 200
    body = await _sync(hs, token, since=since)
    ephemeral = {
        e["type"]: e["content"] for e in body["rooms"]["join"][room]["ephemeral"]["events"]
    }
    assert ephemeral["m.typing"] == {"user_ids": [alice]}
    assert alice in ephemeral["m.receipt"][event_id]["m.read"]


async def test_unread_count_follows_read_receipt(hs: Homeserver) -> None:
    _, alice = await _user(hs, "alice")
    bob_id, bob = await _user(hs, "bob")
    room = await _room(hs, alice, invite=[bob_id])
    status, _ = await hs.request("POST", f"/join/{room}", {}, token=bob)
    assert status == 200
    await _send(hs, alice, room, "one", "1")
    last = await _send(hs, alice, room, "two", "2")
    joined = (await _sync(hs, bob))["rooms"]["join"][room]
    assert joined["unread_notifications"]["notification_count"] == 2
    status, _ = await hs.request("POST", f"/rooms/{room}/receipt/m.read/{last}", {}, token=bob)
    assert status == 200
    joined = (await _sync(hs, bob))["rooms"]["join"][room]
    assert joined["unread_notifications"]["notification_count"] == 0


async def test_bad_parameters_are_refused(hs: Homeserver) -> None:
    _, token = await _user(hs, "alice")
    for params, errcode in (
        ({"since": "banana"}, "M_INVALID_PARAM"),
        ({"timeout": "-1"}, "M_INVALID_PARAM"),
        ({"filter": "{not json"}, "M_NOT_JSON"),
        ({"filter": "12345"}, "M_NOT_FOUND"),
        ({"set_presence": "dancing"}, "M_INVALID_PARAM"),
        ({"full_state": "yes"}, "M_INVALID_PARAM"),
    ):
        status, body = await hs.request("GET", "/sync", token=token, params=params)
        assert status == 400, (params, body)
        assert body["errcode"] == errcode
    status, body = await hs.request("GET", "/sync")
    assert status == 401 and body["errcode"] == "M_MISSING_TOKEN"


async def test_full_state_and_lazy_loading(hs: Homeserver) -> None:
    _, alice = await _user(hs, "alice")
    bob_id, bob = await _user(hs, "bob")
    carol_id, carol = await _user(hs, "carol")
    room = await _room(hs, alice, preset="public_chat")
    for token in (bob, carol):
        status, _ = await hs.request("POST", f"/join/{room}", {}, token=token)
        assert status == 200
    since = (await _sync(hs, alice))["next_batch"]
    await _send(hs, bob, room, "from bob", "b")
    lazy = json.dumps({"room": {"state": {"lazy_load_members": True}, "timeline": {"limit": 1}}})
    body = await _sync(hs, alice, since=since, full_state="true", filter=lazy)
    members = {
        e["state_key"]
        for e in body["rooms"]["join"][room]["state"]["events"]
        if e["type"] == "m.room.member"
    }
    # full state, but members only for the timeline's senders (and the user)
    assert bob_id in members and carol_id not in members
    state_types = {e["type"] for e in body["rooms"]["join"][room]["state"]["events"]}
    assert "m.room.create" in state_types and "m.room.join_rules" in state_types


# -- giving way to the loop (issue 12: no loop stall over 20 ms) -------------------------


async def test_a_big_initial_sync_gives_way_to_other_tasks_between_rooms(hs: Homeserver) -> None:
    """Regression: the response was built in one synchronous stretch, so every other
    request waited for all of it. Now other tasks run between rooms, and the
    response is the same as one built in a single stretch."""
    from conduwuit.core.ids import UserId
    from conduwuit.service.give_way import GiveWay
    from conduwuit.service.sync.filter import parse_filter

    user, token = await _user(hs, "bigsync")
    rooms = [await _room(hs, token) for _ in range(6)]
    for n, room in enumerate(rooms):
        await _send(hs, token, room, f"hello {n}", f"t{n}")
    sync = hs.services.sync
    sync_filter = parse_filter(None, user, hs.services.users.filters.get)
    kwargs: dict[str, Any] = {
        "since": None,
        "timeout_ms": 0,
        "full_state": False,
        "sync_filter": sync_filter,
        "set_presence": "offline",
    }
    sync.give_way = lambda: GiveWay(budget_s=float("inf"))
    in_one_stretch = await sync.sync(UserId.parse(user), "DEV", **kwargs)

    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    sync.give_way = lambda: GiveWay(budget_s=0.0)  # give way at every room
    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    try:
        given_way = await sync.sync(UserId.parse(user), "DEV", **kwargs)
    finally:
        stop.set()
        await task
    assert ticks - before >= len(rooms)  # the ticker ran while the response was built
    assert given_way == in_one_stretch
    assert set(rooms) <= set(given_way["rooms"]["join"])


async def _ticking(work: Coroutine[Any, Any, T]) -> tuple[T, int]:
    """``work``'s result, and how often another task ran while it was awaited."""
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    try:
        result = await work
    finally:
        stop.set()
        await task
    return result, ticks - before


async def test_one_room_gives_way_between_its_events(hs: Homeserver) -> None:
    """Regression: a room was built in one step, so one room with a long timeline or a
    big state held the loop for all of it. Now other tasks run between its events, in
    an initial sync and in a limited incremental one (state since ``since``), and the
    responses are those of a build in one stretch."""
    from conduwuit.core.ids import UserId
    from conduwuit.service.give_way import GiveWay
    from conduwuit.service.sync.filter import parse_filter

    user, token = await _user(hs, "oneroom")
    room = await _room(hs, token, name="Busy", topic="many events")
    for n in range(6):
        await _send(hs, token, room, f"before {n}", f"b{n}")
    since = (await _sync(hs, token))["next_batch"]
    await hs.request("PUT", f"/rooms/{room}/state/m.room.topic", {"topic": "new"}, token=token)
    for n in range(6):
        await _send(hs, token, room, f"after {n}", f"a{n}")
    sync = hs.services.sync
    lookup = hs.services.users.filters.get
    limited = parse_filter('{"room": {"timeline": {"limit": 3}}}', user, lookup)
    windows = [(None, parse_filter(None, user, lookup)), (int(since[1:]), limited)]
    for position, sync_filter in windows:
        kwargs: dict[str, Any] = {
            "since": position,
            "timeout_ms": 0,
            "full_state": False,
            "sync_filter": sync_filter,
            "set_presence": "offline",
        }
        sync.give_way = lambda: GiveWay(budget_s=float("inf"))
        in_one_stretch = await sync.sync(UserId.parse(user), "DEV", **kwargs)
        sync.give_way = lambda: GiveWay(budget_s=0.0)
        given_way, ticks = await _ticking(sync.sync(UserId.parse(user), "DEV", **kwargs))
        section = given_way["rooms"]["join"][room]
        events = len(section["timeline"]["events"]) + len(section["state"]["events"])
        assert ticks > events  # other tasks ran between the room's events
        assert given_way == in_one_stretch
    assert section["timeline"]["limited"] is True
    assert "m.room.topic" in {e["type"] for e in section["state"]["events"]}


async def test_the_encoded_response_is_json_dumps_byte_for_byte() -> None:
    from conduwuit.api.client.sync import encode
    from conduwuit.service.give_way import GiveWay

    body = {
        "next_batch": "s42",
        "rooms": {
            "join": {"!a:x": {"timeline": {"events": [{"body": 'é \u2028 "q"'}]}}, "!b:x": {}},
            "invite": {},
            "leave": {"!c:x": {"state": {"events": []}}},
        },
        "presence": {"events": []},
        "device_one_time_keys_count": {"signed_curve25519": 3},
        "empty": {},
    }
    give_way = GiveWay(budget_s=0.0)
    assert await encode(body, give_way) == json.dumps(body).encode()
    assert give_way.yields > 0
    assert await encode([], give_way) == b"[]"
