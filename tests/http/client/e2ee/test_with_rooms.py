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


async def test_room_key_sent_after_its_message_reaches_sync_once_and_whole(
    hs: Homeserver,
) -> None:
    """What matrix-js-sdk does when it first writes in an encrypted room: its to-device
    queue sends the Olm-encrypted room key *after* the Megolm message is already on
    its way, so the server may store the message first. The recipient's /sync must
    then carry the message in the room's timeline and the key in ``to_device`` (one
    answer if both are waiting, as Synapse does), count the claimed one-time key,
    give the key again to a retry from the same ``since`` (an answer lost on the
    way loses nothing), and never again after the next token."""
    alice, alice_dev, alice_token = await _user(hs, "alice")
    carol, carol_dev, carol_token = await _user(hs, "carol")
    device = FakeDevice(carol, carol_dev)
    keys = {
        "device_keys": device.device_keys(),
        "one_time_keys": device.one_time_keys(2),
        "fallback_keys": device.one_time_keys(1, fallback=True),
    }
    status, _ = await hs.request("POST", "/keys/upload", keys, token=carol_token)
    assert status == 200
    encryption = {"algorithm": "m.megolm.v1.aes-sha2"}
    status, reply = await hs.request(
        "POST",
        "/createRoom",
        {
            "preset": "private_chat",
            "invite": [carol],
            "initial_state": [{"type": "m.room.encryption", "content": encryption}],
        },
        token=alice_token,
    )
    assert status == 200, reply
    room_id = reply["room_id"]
    assert (await hs.request("POST", f"/join/{room_id}", {}, token=carol_token))[0] == 200
    _, joined = await hs.request("GET", "/sync", token=carol_token)
    since = joined["next_batch"]

    claim = {"one_time_keys": {carol: {carol_dev: "signed_curve25519"}}}
    status, claimed = await hs.request("POST", "/keys/claim", claim, token=alice_token)
    assert status == 200
    assert list(claimed["one_time_keys"][carol][carol_dev]) == ["signed_curve25519:K1"]
    megolm = {**encryption, "ciphertext": "AwgA", "session_id": "S", "device_id": alice_dev}
    status, sent = await hs.request(
        "PUT", f"/rooms/{room_id}/send/m.room.encrypted/m1", megolm, token=alice_token
    )
    assert status == 200
    olm = {"algorithm": "m.olm.v1.curve25519-aes-sha2", "ciphertext": {"k": {"type": 0}}}
    body = {"messages": {carol: {carol_dev: olm}}}
    path = "/sendToDevice/m.room.encrypted/k1"
    assert (await hs.request("PUT", path, body, token=alice_token))[0] == 200

    params = {"since": since, "timeout": "0"}
    key = [{"type": "m.room.encrypted", "sender": alice, "content": olm}]
    for _attempt in range(2):  # the second is a retry of the same request
        status, both = await hs.request("GET", "/sync", token=carol_token, params=params)
        assert status == 200
        timeline = both["rooms"]["join"][room_id]["timeline"]["events"]
        assert [e["event_id"] for e in timeline] == [sent["event_id"]]
        assert both["to_device"]["events"] == key
        assert both["device_one_time_keys_count"] == {"signed_curve25519": 1}
        assert both["device_unused_fallback_key_types"] == ["signed_curve25519"]
    params = {"since": both["next_batch"], "timeout": "0"}
    status, after = await hs.request("GET", "/sync", token=carol_token, params=params)
    assert status == 200
    assert after["to_device"]["events"] == []
    assert room_id not in after.get("rooms", {}).get("join", {})
