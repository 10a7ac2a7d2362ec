"""Simplified Sliding Sync extensions: to_device (with since), e2ee, account_data,
receipts and typing, each scoped by lists and room subscriptions; and the unread
counts, which must equal /sync's."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.kit.e2ee import FakeDevice
from tests.kit.homeserver import Homeserver

from .sliding_kit import a_list, hs, sliding
from .test_sync import _room, _send, _sync

__all__ = ["hs"]


async def _user(hs: Homeserver, name: str) -> tuple[str, str, str]:
    reply = await hs.register(name)
    return reply["user_id"], reply["device_id"], reply["access_token"]


async def _join(hs: Homeserver, token: str, room: str) -> None:
    status, reply = await hs.request("POST", f"/join/{room}", {}, token=token)
    assert status == 200, reply


async def test_to_device_with_since_and_limit(hs: Homeserver) -> None:
    alice, _, alice_token = await _user(hs, "alice")
    bob, bob_dev, bob_token = await _user(hs, "bob")
    for i in range(3):
        body = {"messages": {bob: {bob_dev: {"n": i}}}}
        status, _ = await hs.request("PUT", f"/sendToDevice/m.test/t{i}", body, token=alice_token)
        assert status == 200

    def request(since: str | None) -> dict[str, Any]:
        to_device: dict[str, Any] = {"enabled": True, "limit": 2}
        if since is not None:
            to_device["since"] = since
        return {"extensions": {"to_device": to_device}}

    first = await sliding(hs, bob_token, request(None))
    batch = first["extensions"]["to_device"]
    assert [e["content"]["n"] for e in batch["events"]] == [0, 1]
    assert batch["events"][0]["sender"] == alice
    second = await sliding(hs, bob_token, request(batch["next_batch"]), pos=first["pos"])
    batch = second["extensions"]["to_device"]
    assert [e["content"]["n"] for e in batch["events"]] == [2]
    # Repeating a since gives the same messages again (not yet acknowledged)...
    again = await sliding(hs, bob_token, request(first["extensions"]["to_device"]["next_batch"]))
    assert [e["content"]["n"] for e in again["extensions"]["to_device"]["events"]] == [2]
    # ...and a later since acknowledges them: they are gone.
    done = await sliding(hs, bob_token, request(batch["next_batch"]))
    assert done["extensions"]["to_device"]["events"] == []
    # A waiting request wakes for a new message.
    waiting = asyncio.ensure_future(
        sliding(hs, bob_token, request(batch["next_batch"]), pos=done["pos"], timeout_ms=10000)
    )
    await asyncio.sleep(0.2)
    assert not waiting.done()
    body = {"messages": {bob: {bob_dev: {"n": 3}}}}
    assert (await hs.request("PUT", "/sendToDevice/m.test/t3", body, token=alice_token))[0] == 200
    woke = await asyncio.wait_for(waiting, 5)
    assert [e["content"]["n"] for e in woke["extensions"]["to_device"]["events"]] == [3]


async def test_e2ee_counts_fallback_keys_and_device_lists(hs: Homeserver) -> None:
    alice, alice_dev, alice_token = await _user(hs, "alice")
    _, _, bob_token = await _user(hs, "bob")
    room = await _room(hs, alice_token, preset="public_chat")
    await _join(hs, bob_token, room)
    device = FakeDevice(alice, alice_dev)
    keys = {
        "device_keys": device.device_keys(),
        "one_time_keys": device.one_time_keys(3),
        "fallback_keys": device.one_time_keys(1, fallback=True),
    }
    assert (await hs.request("POST", "/keys/upload", keys, token=alice_token))[0] == 200
    body = {"extensions": {"e2ee": {"enabled": True}}}
    first = await sliding(hs, alice_token, body)
    e2ee = first["extensions"]["e2ee"]
    assert e2ee["device_one_time_keys_count"]["signed_curve25519"] == 3
    assert e2ee["device_unused_fallback_key_types"] == ["signed_curve25519"]
    assert "device_lists" not in e2ee
    bob_first = await sliding(hs, bob_token, body)
    # Alice signs in on a new device and uploads its keys.
    login = await hs.login("alice")
    new_keys = {"device_keys": FakeDevice(alice, login["device_id"]).device_keys()}
    status, _ = await hs.request("POST", "/keys/upload", new_keys, token=login["access_token"])
    assert status == 200
    # Alice's key change reaches Bob, who shares a room with her.
    second = await sliding(hs, bob_token, body, pos=bob_first["pos"])
    assert alice in second["extensions"]["e2ee"]["device_lists"]["changed"]
    status, _ = await hs.request("POST", f"/rooms/{room}/leave", {}, token=alice_token)
    assert status == 200
    third = await sliding(hs, bob_token, body, pos=second["pos"])
    assert third["extensions"]["e2ee"]["device_lists"]["left"] == [alice]


async def test_account_data_global_and_per_room_scoped_by_lists(hs: Homeserver) -> None:
    alice, _, token = await _user(hs, "alice")
    in_list, outside = await _room(hs, token), await _room(hs, token)
    for room in (in_list, outside):
        path = f"/user/{alice}/rooms/{room}/account_data/m.test"
        assert (await hs.request("PUT", path, {"room": room}, token=token))[0] == 200
    path = f"/user/{alice}/account_data/m.global"
    assert (await hs.request("PUT", path, {"g": 1}, token=token))[0] == 200
    body = {
        "lists": {"top": a_list(0), "none": a_list(0, is_encrypted=True)},
        "extensions": {"account_data": {"enabled": True, "lists": ["top"]}},
    }
    first = await sliding(hs, token, body)
    data = first["extensions"]["account_data"]
    global_types = {e["type"] for e in data["global"]}
    # m.push_rules comes with the first response, as with /sync.
    assert {"m.global", "m.push_rules"} <= global_types
    assert list(data["rooms"]) == [outside]  # the newest room is the list's top
    assert data["rooms"][outside] == [{"type": "m.test", "content": {"room": outside}}]
    quiet = await sliding(hs, token, body, pos=first["pos"])
    assert quiet["extensions"]["account_data"] == {"global": [], "rooms": {}}
    path = f"/user/{alice}/rooms/{outside}/account_data/m.test"
    assert (await hs.request("PUT", path, {"room": "again"}, token=token))[0] == 200
    second = await sliding(hs, token, body, pos=quiet["pos"])
    assert second["extensions"]["account_data"]["rooms"] == {
        outside: [{"type": "m.test", "content": {"room": "again"}}]
    }
    assert in_list not in second["extensions"]["account_data"]["rooms"]


async def test_receipts_and_typing_scoped_by_room_subscriptions(hs: Homeserver) -> None:
    _, _, alice_token = await _user(hs, "alice")
    bob, _, bob_token = await _user(hs, "bob")
    watched = await _room(hs, alice_token, preset="public_chat")
    other = await _room(hs, alice_token, preset="public_chat")
    for room in (watched, other):
        await _join(hs, bob_token, room)
    event = await _send(hs, alice_token, watched, "read me", "t1")
    await _send(hs, alice_token, other, "not watched", "t2")
    subscription = {"required_state": [], "timeline_limit": 1}
    body = {
        "room_subscriptions": {watched: subscription, other: subscription},
        "extensions": {
            "receipts": {"enabled": True, "rooms": [watched]},
            "typing": {"enabled": True, "rooms": [watched]},
        },
    }
    first = await sliding(hs, alice_token, body)
    assert first["extensions"]["receipts"] == {"rooms": {}}
    assert first["extensions"]["typing"] == {"rooms": {}}
    for room in (watched, other):
        path = f"/rooms/{room}/typing/{bob}"
        typing = {"typing": True, "timeout": 30000}
        assert (await hs.request("PUT", path, typing, token=bob_token))[0] == 200
    path = f"/rooms/{watched}/receipt/m.read/{event}"
    assert (await hs.request("POST", path, {}, token=bob_token))[0] == 200
    second = await sliding(hs, alice_token, body, pos=first["pos"])
    receipts = second["extensions"]["receipts"]["rooms"]
    assert list(receipts) == [watched]
    assert receipts[watched]["type"] == "m.receipt"
    assert bob in receipts[watched]["content"][event]["m.read"]
    assert second["extensions"]["typing"]["rooms"] == {
        watched: {"type": "m.typing", "content": {"user_ids": [bob]}}
    }
    # Bob's private receipt reaches Bob's connection only (spec "Private read receipts").
    bob_first = await sliding(hs, bob_token, body)
    path = f"/rooms/{watched}/receipt/m.read.private/{event}"
    assert (await hs.request("POST", path, {}, token=bob_token))[0] == 200
    bob_second = await sliding(hs, bob_token, body, pos=bob_first["pos"])
    content = bob_second["extensions"]["receipts"]["rooms"][watched]["content"]
    assert bob in content[event]["m.read.private"]
    third = await sliding(hs, alice_token, body, pos=second["pos"], timeout_ms=0)
    assert third["extensions"]["receipts"] == {"rooms": {}}
    # A new connection gets the room's current receipts and typing.
    fresh = await sliding(hs, alice_token, {**body, "conn_id": "fresh"})
    assert bob in fresh["extensions"]["receipts"]["rooms"][watched]["content"][event]["m.read"]
    assert fresh["extensions"]["typing"]["rooms"][watched]["content"]["user_ids"] == [bob]


async def test_unread_counts_equal_syncs(hs: Homeserver) -> None:
    alice, _, alice_token = await _user(hs, "alice")
    _, _, bob_token = await _user(hs, "bob")
    room = await _room(hs, alice_token, preset="public_chat")
    await _join(hs, bob_token, room)
    await _send(hs, bob_token, room, "plain", "t1")
    await _send(hs, bob_token, room, "another", "t2")
    mention = {"msgtype": "m.text", "body": "you there?", "m.mentions": {"user_ids": [alice]}}
    path = f"/rooms/{room}/send/m.room.message/t3"
    status, reply = await hs.request("PUT", path, mention, token=bob_token)
    assert status == 200
    last = reply["event_id"]

    async def both() -> tuple[dict[str, int], dict[str, int]]:
        synced = (await _sync(hs, alice_token))["rooms"]["join"][room]["unread_notifications"]
        reply = await sliding(hs, alice_token, {"lists": {"a": a_list()}})
        result = reply["rooms"][room]
        counts = {k: result[k] for k in ("notification_count", "highlight_count")}
        return synced, counts

    synced, counts = await both()
    assert counts == synced
    assert counts["notification_count"] == 3 and counts["highlight_count"] == 1
    path = f"/rooms/{room}/receipt/m.read/{last}"
    assert (await hs.request("POST", path, {}, token=alice_token))[0] == 200
    synced, counts = await both()
    assert counts == synced == {"notification_count": 0, "highlight_count": 0}


async def test_a_read_receipt_brings_the_room_with_its_reset_counts(hs: Homeserver) -> None:
    _, _, alice_token = await _user(hs, "alice")
    _, _, bob_token = await _user(hs, "bob")
    room = await _room(hs, alice_token, preset="public_chat")
    await _join(hs, bob_token, room)
    last = await _send(hs, bob_token, room, "unread", "t1")
    body = {"lists": {"a": a_list()}}
    first = await sliding(hs, alice_token, body)
    assert first["rooms"][room]["notification_count"] == 1
    path = f"/rooms/{room}/receipt/m.read.private/{last}"
    assert (await hs.request("POST", path, {}, token=alice_token))[0] == 200
    second = await sliding(hs, alice_token, body, pos=first["pos"])
    assert second["rooms"][room]["notification_count"] == 0
