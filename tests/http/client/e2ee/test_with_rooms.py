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
