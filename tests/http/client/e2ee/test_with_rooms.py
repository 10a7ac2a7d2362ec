"""Device-list tracking and wake-ups with the real rooms service and notifier."""

from __future__ import annotations

import asyncio

from tests.kit.e2ee import FakeDevice
from tests.kit.homeserver import Homeserver


async def _user(hs: Homeserver, name: str) -> tuple[str, str, str]:
    reply = await hs.register(name)
    return reply["user_id"], reply["device_id"], reply["access_token"]


async def test_room_mates_hear_of_key_changes_and_leaves(hs: Homeserver) -> None:
    alice, alice_dev, alice_token = await _user(hs, "alice")
    bob, _, bob_token = await _user(hs, "bob")
    status, reply = await hs.request(
        "POST", "/createRoom", {"preset": "public_chat"}, token=alice_token
    )
    assert status == 200, reply
    room_id = reply["room_id"]
    since = hs.services.db.current_count()
    status, reply = await hs.request("POST", f"/join/{room_id}", {}, token=bob_token)
    assert status == 200, reply
    sync = hs.services.e2ee.sync
    assert sync.device_list_changes(alice, since).changed == [bob]
    assert sync.device_list_changes(bob, since).changed == [alice]

    since = hs.services.db.current_count()
    keys = {"device_keys": FakeDevice(alice, alice_dev).device_keys()}
    status, _ = await hs.request("POST", "/keys/upload", keys, token=alice_token)
    assert status == 200
    assert sync.device_list_changes(bob, since).changed == [alice]

    since = hs.services.db.current_count()
    status, reply = await hs.request("POST", f"/rooms/{room_id}/leave", {}, token=bob_token)
    assert status == 200, reply
    changes = sync.device_list_changes(alice, since)
    assert (changes.changed, changes.left) == ([], [bob])
    assert sync.device_list_changes(bob, since).left == [alice]


async def test_to_device_wakes_a_waiting_sync(hs: Homeserver) -> None:
    alice, _, alice_token = await _user(hs, "alice")
    bob, bob_dev, _ = await _user(hs, "bob")
    since = hs.services.db.current_count()
    waiter = asyncio.create_task(hs.services.notifier.wait(since, users=[bob], timeout_ms=30_000))
    await asyncio.sleep(0)
    body = {"messages": {bob: {bob_dev: {"hi": 1}}}}
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, _ = await hs.request("PUT", "/sendToDevice/m.test/1", body, token=alice_token)
    assert status == 200
    position = await asyncio.wait_for(waiter, 5)
    assert loop.time() - started < 1
    assert position > since
    events = hs.services.e2ee.sync.to_device_events(bob, bob_dev, since, position).events
    assert events == [{"type": "m.test", "sender": alice, "content": {"hi": 1}}]


async def test_long_polling_sync_returns_on_a_to_device_message(hs: Homeserver) -> None:
    alice, _, alice_token = await _user(hs, "alice")
    bob, bob_dev, bob_token = await _user(hs, "bob")
    status, first = await hs.request("GET", "/sync", token=bob_token)
    assert status == 200
    since = first["next_batch"]
    assert first["device_unused_fallback_key_types"] == []
    loop = asyncio.get_running_loop()
    poll = asyncio.create_task(
        hs.request("GET", "/sync", token=bob_token, params={"since": since, "timeout": "30000"})
    )
    await asyncio.sleep(0.05)
    started = loop.time()
    body = {"messages": {bob: {bob_dev: {"secret": "room key"}}}}
    status, _ = await hs.request("PUT", "/sendToDevice/m.room_key/1", body, token=alice_token)
    assert status == 200
    status, reply = await asyncio.wait_for(poll, 5)
    assert status == 200
    assert loop.time() - started < 1
    assert reply["to_device"]["events"] == [
        {"type": "m.room_key", "sender": alice, "content": {"secret": "room key"}}
    ]
    # the next sync acknowledges it: delivered once
    status, again = await hs.request(
        "GET", "/sync", token=bob_token, params={"since": reply["next_batch"], "timeout": "0"}
    )
    assert again["to_device"]["events"] == []
    assert not hs.services.e2ee.to_device.has_events(bob, bob_dev, 0)


async def test_sync_reports_device_list_changes_and_key_counts(hs: Homeserver) -> None:
    alice, alice_dev, alice_token = await _user(hs, "alice")
    _, _, bob_token = await _user(hs, "bob")
    status, reply = await hs.request(
        "POST", "/createRoom", {"preset": "public_chat"}, token=alice_token
    )
    assert status == 200
    room_id = reply["room_id"]
    await hs.request("POST", f"/join/{room_id}", {}, token=bob_token)
    _, first = await hs.request("GET", "/sync", token=bob_token)
    device = FakeDevice(alice, alice_dev)
    keys = {"device_keys": device.device_keys(), "one_time_keys": device.one_time_keys(3)}
    await hs.request("POST", "/keys/upload", keys, token=alice_token)
    _, bob_sync = await hs.request(
        "GET", "/sync", token=bob_token, params={"since": first["next_batch"], "timeout": "0"}
    )
    assert bob_sync["device_lists"]["changed"] == [alice]
    _, alice_sync = await hs.request("GET", "/sync", token=alice_token)
    assert alice_sync["device_one_time_keys_count"] == {"signed_curve25519": 3}
