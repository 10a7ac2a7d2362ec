"""``prev_batch`` of an initial sync that holds a room's whole timeline is the sync's
own position, as Synapse gives it, so ``/members?at=prev_batch`` is the membership
at the time of that sync (Complement TestGetRoomMembersAtPoint)."""

from __future__ import annotations

import json

from tests.kit.homeserver import Homeserver

from .test_sync import _room, _send, _sync, _user


async def test_members_at_an_unlimited_initial_syncs_prev_batch(hs: Homeserver) -> None:
    alice, alice_token = await _user(hs, "alice")
    bob, bob_token = await _user(hs, "bob")
    room = await _room(hs, alice_token, preset="public_chat")
    await _send(hs, alice_token, room, "Hello world!", "t1")
    body = await _sync(hs, alice_token)
    timeline = body["rooms"]["join"][room]["timeline"]
    assert timeline["limited"] is False
    at = timeline["prev_batch"]
    assert (await hs.request("POST", f"/join/{room}", {}, token=bob_token))[0] == 200
    await _send(hs, bob_token, room, "Hello back", "t2")
    status, reply = await hs.request(
        "GET", f"/rooms/{room}/members", token=alice_token, params={"at": at}
    )
    assert status == 200, reply
    assert [(e["state_key"], e["room_id"]) for e in reply["chunk"]] == [(alice, room)]
    assert bob not in {e["state_key"] for e in reply["chunk"]}


async def test_a_limited_initial_sync_still_points_before_its_first_event(
    hs: Homeserver,
) -> None:
    _, token = await _user(hs, "alice")
    room = await _room(hs, token)
    for i in range(4):
        await _send(hs, token, room, f"m{i}", f"t{i}")
    sync_filter = json.dumps({"room": {"timeline": {"limit": 2}}})
    timeline = (await _sync(hs, token, filter=sync_filter))["rooms"]["join"][room]["timeline"]
    assert timeline["limited"] is True
    status, page = await hs.request(
        "GET",
        f"/rooms/{room}/messages",
        token=token,
        params={"dir": "b", "from": timeline["prev_batch"], "limit": "1"},
    )
    assert status == 200
    assert page["chunk"][0]["content"]["body"] == "m1"
