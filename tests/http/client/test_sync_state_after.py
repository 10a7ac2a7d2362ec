"""``use_state_after`` on /sync (spec v1.16, MSC4222): ``state_after`` holds the state
changes up to the end of the timeline, timeline events included, and ``state`` is
left out; without it, nothing changes."""

from __future__ import annotations

import json
from typing import Any

from tests.kit.homeserver import Homeserver

from .test_sync import _room, _send, _sync, _user


async def _state(hs: Homeserver, token: str, room: str, event_type: str, content: Any) -> str:
    status, reply = await hs.request(
        "PUT", f"/rooms/{room}/state/{event_type}/", content, token=token
    )
    assert status == 200, reply
    event_id: str = reply["event_id"]
    return event_id


def _types(events: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["type"], e["state_key"]): e for e in events}


async def test_initial_sync_gives_the_state_at_the_end_of_the_timeline(hs: Homeserver) -> None:
    alice, token = await _user(hs, "alice")
    room = await _room(hs, token, name="Before")
    renamed = await _state(hs, token, room, "m.room.name", {"name": "After"})
    await _send(hs, token, room, "hello", "t1")
    joined = (await _sync(hs, token, use_state_after="true"))["rooms"]["join"][room]
    assert "state" not in joined
    after = _types(joined["state_after"]["events"])
    # The rename is in the timeline and in state_after (clients apply only state_after).
    assert after[("m.room.name", "")]["event_id"] == renamed
    assert renamed in [e["event_id"] for e in joined["timeline"]["events"]]
    assert {("m.room.create", ""), ("m.room.member", alice), ("m.room.power_levels", "")} <= set(
        after
    )
    # Without the parameter, state stops at the start of the timeline.
    joined = (await _sync(hs, token))["rooms"]["join"][room]
    assert "state_after" not in joined
    assert joined["timeline"]["limited"] is False
    assert all(e["event_id"] != renamed for e in joined["state"]["events"])


async def test_incremental_sync_has_the_changes_since_the_token(hs: Homeserver) -> None:
    _, token = await _user(hs, "alice")
    room = await _room(hs, token, name="Lounge")
    since = (await _sync(hs, token, use_state_after="true"))["next_batch"]
    await _send(hs, token, room, "no state", "t1")
    body = await _sync(hs, token, since=since, use_state_after="true")
    joined = body["rooms"]["join"][room]
    # Required even when empty.
    assert joined["state_after"] == {"events": []} and "state" not in joined
    topic = await _state(hs, token, room, "m.room.topic", {"topic": "tea"})
    await _send(hs, token, room, "more", "t2")
    joined = (await _sync(hs, token, since=body["next_batch"], use_state_after="true"))["rooms"][
        "join"
    ][room]
    assert [e["event_id"] for e in joined["state_after"]["events"]] == [topic]
    assert joined["timeline"]["limited"] is False
    # The old behaviour for the same window: state empty, the topic only in the timeline.
    joined = (await _sync(hs, token, since=body["next_batch"]))["rooms"]["join"][room]
    assert joined["state"] == {"events": []} and "state_after" not in joined


async def test_limited_timeline_includes_state_from_before_and_inside_it(hs: Homeserver) -> None:
    _, token = await _user(hs, "alice")
    room = await _room(hs, token)
    since = (await _sync(hs, token))["next_batch"]
    topic = await _state(hs, token, room, "m.room.topic", {"topic": "early"})
    for i in range(5):
        await _send(hs, token, room, f"m{i}", f"t{i}")
    name = await _state(hs, token, room, "m.room.name", {"name": "late"})
    sync_filter = json.dumps({"room": {"timeline": {"limit": 2}}})
    joined = (await _sync(hs, token, since=since, filter=sync_filter, use_state_after="true"))[
        "rooms"
    ]["join"][room]
    assert joined["timeline"]["limited"] is True
    assert {e["event_id"] for e in joined["state_after"]["events"]} == {topic, name}


async def test_left_room_state_stops_at_the_leave(hs: Homeserver) -> None:
    _, alice_token = await _user(hs, "alice")
    bob, bob_token = await _user(hs, "bob")
    room = await _room(hs, alice_token, preset="public_chat")
    assert (await hs.request("POST", f"/join/{room}", {}, token=bob_token))[0] == 200
    since = (await _sync(hs, bob_token))["next_batch"]
    assert (await hs.request("POST", f"/rooms/{room}/leave", {}, token=bob_token))[0] == 200
    await _state(hs, alice_token, room, "m.room.topic", {"topic": "after bob left"})
    left = (await _sync(hs, bob_token, since=since, use_state_after="true"))["rooms"]["leave"][room]
    assert "state" not in left
    after = _types(left["state_after"]["events"])
    assert after[("m.room.member", bob)]["content"]["membership"] == "leave"
    assert ("m.room.topic", "") not in after


async def test_bad_value_is_refused(hs: Homeserver) -> None:
    _, token = await _user(hs, "alice")
    status, reply = await hs.request("GET", "/sync", token=token, params={"use_state_after": "yes"})
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")
