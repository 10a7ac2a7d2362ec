"""Send-to-device: storage per device, idempotency, delivery window and acknowledgement."""

from __future__ import annotations

import pytest

from conduwuit.core.errors import MatrixError
from tests.kit.e2ee import FakeDevice

from .conftest import ALICE, BOB, REMOTE, Kit


@pytest.fixture
def bob_devices(kit: Kit) -> Kit:
    kit.login(BOB, "B1")
    kit.login(BOB, "B2")
    return kit


def test_send_to_one_device_and_to_all(bob_devices: Kit) -> None:
    kit = bob_devices
    td = kit.e2ee.to_device
    since = kit.db.current_count()
    td.send(ALICE, "A1", "m.test", "t1", {BOB: {"B1": {"n": 1}}})
    td.send(ALICE, "A1", "m.test", "t2", {BOB: {"*": {"n": 2}}})
    until = kit.db.current_count()
    b1 = kit.e2ee.sync.to_device_events(BOB, "B1", 0, until)
    b2 = kit.e2ee.sync.to_device_events(BOB, "B2", 0, until)
    assert [e["content"]["n"] for e in b1.events] == [1, 2]
    assert [e["content"]["n"] for e in b2.events] == [2]
    assert b1.events[0] == {"type": "m.test", "sender": ALICE, "content": {"n": 1}}
    assert b1.last_position == until
    assert BOB in kit.woken(since)


def test_same_txn_is_delivered_once(bob_devices: Kit) -> None:
    kit = bob_devices
    for _ in range(3):
        kit.e2ee.to_device.send(ALICE, "A1", "m.test", "same", {BOB: {"B1": {}}})
    assert len(kit.e2ee.sync.to_device_events(BOB, "B1", 0, kit.db.current_count()).events) == 1
    # the same txn ID from another device, or for another event type, is another message
    kit.e2ee.to_device.send(ALICE, "A2", "m.test", "same", {BOB: {"B1": {}}})
    kit.e2ee.to_device.send(ALICE, "A1", "m.other", "same", {BOB: {"B1": {}}})
    assert len(kit.e2ee.sync.to_device_events(BOB, "B1", 0, kit.db.current_count()).events) == 3


def test_acknowledge_deletes_up_to_since(bob_devices: Kit) -> None:
    kit = bob_devices
    kit.e2ee.to_device.send(ALICE, "A1", "m.test", "1", {BOB: {"B1": {"n": 1}}})
    first = kit.db.current_count()
    kit.e2ee.to_device.send(ALICE, "A1", "m.test", "2", {BOB: {"B1": {"n": 2}}})
    now = kit.db.current_count()
    # a sync from 0 sees both; the next sync (since=first) acknowledges the first
    assert len(kit.e2ee.sync.to_device_events(BOB, "B1", 0, now).events) == 2
    kit.e2ee.sync.acknowledge_to_device(BOB, "B1", first)
    assert [
        e["content"]["n"] for e in kit.e2ee.sync.to_device_events(BOB, "B1", 0, now).events
    ] == [2]
    assert kit.e2ee.to_device.has_events(BOB, "B1", first)
    kit.e2ee.sync.acknowledge_to_device(BOB, "B1", now)
    assert not kit.e2ee.to_device.has_events(BOB, "B1", 0)


def test_limit_and_last_position(bob_devices: Kit) -> None:
    kit = bob_devices
    for i in range(5):
        kit.e2ee.to_device.send(ALICE, "A1", "m.test", str(i), {BOB: {"B1": {"n": i}}})
    now = kit.db.current_count()
    first = kit.e2ee.sync.to_device_events(BOB, "B1", 0, now, limit=2)
    assert [e["content"]["n"] for e in first.events] == [0, 1]
    rest = kit.e2ee.sync.to_device_events(BOB, "B1", first.last_position, now)
    assert [e["content"]["n"] for e in rest.events] == [2, 3, 4]


def test_unknown_user_device_and_remote_are_dropped(bob_devices: Kit) -> None:
    kit = bob_devices
    since = kit.db.current_count()
    kit.e2ee.to_device.send(
        ALICE,
        "A1",
        "m.test",
        "x",
        {"@nobody:example.org": {"*": {}}, BOB: {"NOPE": {}}, REMOTE: {"D": {}}},
    )
    assert kit.woken(since) == set()
    assert not kit.e2ee.to_device.has_events(BOB, "NOPE", 0)


def test_bad_content_changes_nothing(bob_devices: Kit) -> None:
    kit = bob_devices
    before = kit.db.current_count()
    with pytest.raises(MatrixError):
        kit.e2ee.to_device.send(ALICE, "A1", "m.test", "x", {BOB: {"B1": {"f": 1.5}}})
    with pytest.raises(MatrixError):
        kit.e2ee.to_device.send(ALICE, "A1", "m.test", "x", {BOB: {"B1": "nope"}})  # type: ignore[dict-item]
    assert kit.db.current_count() == before
    assert not kit.e2ee.to_device.has_events(BOB, "B1", 0)


def test_deleted_device_loses_its_messages(bob_devices: Kit) -> None:
    kit = bob_devices
    kit.e2ee.to_device.send(ALICE, "A1", "m.test", "x", {BOB: {"*": {}}})
    kit.services.users.devices.delete(BOB, ["B1"])  # the e2ee deletion listener
    assert not kit.e2ee.to_device.has_events(BOB, "B1", 0)
    assert kit.e2ee.to_device.has_events(BOB, "B2", 0)


def test_sync_extras_deliver_until_acknowledged(bob_devices: Kit) -> None:
    kit = bob_devices
    device = FakeDevice(BOB, "B1")
    kit.e2ee.device_keys.upload(
        BOB, "B1", device_keys=device.device_keys(), fallback_keys=device.one_time_keys(1)
    )
    kit.e2ee.to_device.send(ALICE, "A1", "m.test", "1", {BOB: {"B1": {"n": 1}}})
    first = kit.db.current_count()
    initial = kit.e2ee.sync.sync_extras(BOB, "B1", None, first)
    assert [e["content"] for e in initial["to_device"]["events"]] == [{"n": 1}]
    assert "device_lists" not in initial  # only for incremental syncs
    assert initial["device_one_time_keys_count"] == {"signed_curve25519": 0}
    assert initial["device_unused_fallback_key_types"] == ["signed_curve25519"]
    # the response was lost: a retry from the same place gets the message again
    assert kit.e2ee.sync.sync_extras(BOB, "B1", None, first)["to_device"]["events"]
    for i in range(150):  # more than Synapse's cap: all are delivered at once
        kit.e2ee.to_device.send(ALICE, "A1", "m.test", f"x{i}", {BOB: {"B1": {"n": i}}})
    now = kit.db.current_count()
    later = kit.e2ee.sync.sync_extras(BOB, "B1", first, now)
    assert len(later["to_device"]["events"]) == 150
    assert later["device_lists"] == {"changed": [], "left": []}
    assert kit.e2ee.to_device.has_events(BOB, "B1", first)  # not yet acknowledged
    kit.e2ee.sync.sync_extras(BOB, "B1", now, now)  # acknowledges everything
    assert not kit.e2ee.to_device.has_events(BOB, "B1", 0)
