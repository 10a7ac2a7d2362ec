"""Room upgrades: state, bans and aliases move; the old room is tombstoned and quiet."""

from __future__ import annotations

import pytest

from conduwuit.core.errors import MatrixError
from conduwuit.core.ids import RoomAlias, RoomId
from conduwuit.service.rooms.actions import CreateRoom
from conduwuit.service.rooms.upgrade import RoomUpgrades

from .conftest import ALICE, BOB, CAROL, SERVER, Stack


@pytest.mark.parametrize("target", ["11", "12"])
async def test_upgrade_moves_state_bans_and_aliases(stack: Stack, target: str) -> None:
    old = RoomId.parse(
        await stack.actions.create_room(
            ALICE,
            CreateRoom(
                room_version="10",
                preset="public_chat",
                visibility="public",
                room_alias_name="hall",
                name="Hall",
                creation_content={"type": "org.example.hall"},
            ),
        )
    )
    await stack.membership.join(BOB, str(old))
    await stack.membership.ban(ALICE, old, CAROL, reason="spam")
    upgrades = RoomUpgrades(stack.membership)
    position = stack.db.current_count()
    with pytest.raises(MatrixError):
        await upgrades.upgrade(BOB, old, target, [])
    with pytest.raises(MatrixError) as unknown:
        await upgrades.upgrade(ALICE, old, "99", [])
    assert unknown.value.errcode == "M_UNSUPPORTED_ROOM_VERSION"
    assert stack.db.current_count() == position

    new = RoomId.parse(await upgrades.upgrade(ALICE, old, target, []))
    history = stack.history
    create = history.state_event(ALICE, new, "m.room.create", "")["content"]
    assert create["room_version"] == target
    assert create["predecessor"]["room_id"] == str(old)
    assert create["type"] == "org.example.hall"
    assert history.state_event(ALICE, new, "m.room.name", "")["content"] == {"name": "Hall"}
    join_rules = history.state_event(ALICE, new, "m.room.join_rules", "")["content"]
    assert join_rules == {"join_rule": "public"}
    assert stack.storage.member_index.membership(str(CAROL), str(new)) == "ban"
    alias = RoomAlias.parse(f"#hall:{SERVER}")
    assert stack.actions.aliases.resolve(alias) == str(new)
    canonical = history.state_event(ALICE, new, "m.room.canonical_alias", "")["content"]
    assert canonical == {"alias": str(alias)}
    tombstone = history.state_event(ALICE, old, "m.room.tombstone", "")["content"]
    assert tombstone["replacement_room"] == str(new)
    old_levels = history.state_event(ALICE, old, "m.room.power_levels", "")["content"]
    assert old_levels["events_default"] == 50 and old_levels["invite"] == 50
    assert not stack.actions.aliases.is_published(str(old))
    assert stack.actions.aliases.is_published(str(new))
    new_levels = history.state_event(ALICE, new, "m.room.power_levels", "")["content"]
    if target == "12":
        assert str(ALICE) not in new_levels["users"]
        assert new_levels["events"]["m.room.tombstone"] == 150
    else:
        assert new_levels["users"][str(ALICE)] == 100
    # Bob can follow and talk in the new room, not in the old one.
    await stack.membership.join(BOB, str(new))
    await stack.actions.send(BOB, new, "m.room.message", {"body": "moved"})
    with pytest.raises(MatrixError):
        await stack.actions.send(BOB, old, "m.room.message", {"body": "still here?"})


async def test_canonical_alias_must_point_to_the_room(stack: Stack) -> None:
    room = RoomId.parse(await stack.actions.create_room(ALICE, CreateRoom(room_alias_name="here")))
    other = RoomId.parse(await stack.actions.create_room(ALICE, CreateRoom()))
    with pytest.raises(MatrixError) as bad:
        await stack.actions.send(
            ALICE, other, "m.room.canonical_alias", {"alias": f"#here:{SERVER}"}, ""
        )
    assert bad.value.errcode == "M_BAD_ALIAS"
    with pytest.raises(MatrixError):
        await stack.actions.send(
            ALICE, room, "m.room.canonical_alias", {"alias": "not an alias"}, ""
        )
    await stack.actions.send(
        ALICE,
        room,
        "m.room.canonical_alias",
        {"alias": f"#here:{SERVER}", "alt_aliases": ["#remote:elsewhere.example"]},
        "",
    )
