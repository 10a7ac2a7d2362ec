"""Who hears about device-list changes, and the changed/left read for /sync."""

from __future__ import annotations

from conduwuit.db import MAPS
from tests.kit.e2ee import FakeDevice

from .conftest import ALICE, BOB, CAROL, REMOTE, Kit

ROOM = "!room:example.org"
OTHER_ROOM = "!other:example.org"


def _new_device(kit: Kit, user_id: str, device_id: str) -> None:
    kit.e2ee.device_keys.upload(
        user_id, device_id, device_keys=FakeDevice(user_id, device_id).device_keys()
    )


async def test_key_change_reaches_room_members_and_self_only(kit: Kit) -> None:
    await kit.join(ALICE, ROOM)
    await kit.join(BOB, ROOM)
    since = kit.db.current_count()
    _new_device(kit, ALICE, "A1")
    assert kit.woken(since) == {ALICE, BOB}
    assert kit.e2ee.sync.device_list_changes(BOB, since).changed == [ALICE]
    assert kit.e2ee.sync.device_list_changes(ALICE, since).changed == [ALICE]
    assert not kit.e2ee.sync.device_list_changes(CAROL, since)
    until = kit.db.current_count()
    assert not kit.e2ee.sync.device_list_changes(BOB, until)
    # an explicit upper bound excludes later changes
    _new_device(kit, ALICE, "A2")
    assert not kit.e2ee.sync.device_list_changes(BOB, until, until)


async def test_join_makes_members_changed_for_each_other(kit: Kit) -> None:
    await kit.join(ALICE, ROOM)
    since = kit.db.current_count()
    await kit.join(BOB, ROOM)
    assert kit.e2ee.sync.device_list_changes(ALICE, since).changed == [BOB]
    assert kit.e2ee.sync.device_list_changes(BOB, since).changed == [ALICE]


async def test_leave_reports_left_only_when_no_room_is_shared(kit: Kit) -> None:
    for room in (ROOM, OTHER_ROOM):
        await kit.join(ALICE, room)
        await kit.join(BOB, room)
    since = kit.db.current_count()
    await kit.leave(BOB, ROOM)
    assert not kit.e2ee.sync.device_list_changes(ALICE, since)  # still share OTHER_ROOM
    await kit.leave(BOB, OTHER_ROOM)
    changes = kit.e2ee.sync.device_list_changes(ALICE, since)
    assert (changes.changed, changes.left) == ([], [BOB])
    assert kit.e2ee.sync.device_list_changes(BOB, since).left == [ALICE]
    # after leaving, Bob no longer hears of Alice's new devices
    after_leave = kit.db.current_count()
    _new_device(kit, ALICE, "A1")
    assert not kit.e2ee.sync.device_list_changes(BOB, after_leave)
    # sharing a room again: "changed" (the newest entry wins over the old "left")
    await kit.join(BOB, ROOM)
    changes = kit.e2ee.sync.device_list_changes(ALICE, since)
    assert (changes.changed, changes.left) == ([ALICE, BOB], [])  # Alice's own new device too


async def test_remote_members_are_reported_and_never_written_for(kit: Kit) -> None:
    await kit.join(ALICE, ROOM)
    since = kit.db.current_count()
    # A remote user's join needs federation (not here yet): what the rooms service's
    # join listener would be told once it is persisted, told directly.
    kit.e2ee.device_lists.membership_changed(REMOTE, kit.rooms[ROOM], joined=True)
    assert kit.e2ee.sync.device_list_changes(ALICE, since).changed == [REMOTE]
    assert REMOTE not in kit.woken(0)


def test_has_news(kit: Kit) -> None:
    since = kit.db.current_count()
    assert not kit.e2ee.sync.has_news(ALICE, "A1", since)
    _new_device(kit, ALICE, "A1")
    assert kit.e2ee.sync.has_news(ALICE, "A1", since)
    assert not kit.e2ee.sync.has_news(ALICE, "A1", kit.db.current_count())


async def test_repeated_changes_keep_one_entry_per_pair(kit: Kit) -> None:
    await kit.join(ALICE, ROOM)
    await kit.join(BOB, ROOM)
    since = kit.db.current_count()
    for i in range(5):
        _new_device(kit, ALICE, f"A{i}")
    entries = list(kit.db.map(MAPS.keychangeid_userid).iter_prefix(b"@bob:example.org\xff"))
    assert len(entries) == 1
    assert kit.e2ee.sync.device_list_changes(BOB, since).changed == [ALICE]
