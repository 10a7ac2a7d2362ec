"""Aliases and the published directory: who may create, delete and publish."""

from __future__ import annotations

import pytest

from conduwuit.core.errors import MatrixError
from conduwuit.core.ids import RoomAlias, RoomId
from conduwuit.service.rooms.actions import CreateRoom
from conduwuit.service.rooms.directory import Directory

from .conftest import ALICE, BOB, SERVER, Stack


def alias(name: str) -> RoomAlias:
    return RoomAlias.parse(f"#{name}:{SERVER}")


async def test_create_room_with_alias_and_join_by_alias(stack: Stack) -> None:
    room = await stack.actions.create_room(
        ALICE, CreateRoom(room_alias_name="pub", visibility="public", name="Pub")
    )
    directory = Directory(stack.actions, stack.history)
    assert directory.resolve(alias("pub")) == {"room_id": room, "servers": [SERVER]}
    canonical = stack.history.state_event(ALICE, RoomId.parse(room), "m.room.canonical_alias", "")
    assert canonical["content"] == {"alias": f"#pub:{SERVER}"}
    assert await stack.membership.join(BOB, f"#pub:{SERVER}") == room
    listed = directory.public_rooms()
    assert listed["chunk"][0]["room_id"] == room
    assert listed["chunk"][0]["num_joined_members"] == 2
    assert listed["chunk"][0]["name"] == "Pub"
    with pytest.raises(MatrixError) as taken:
        await stack.actions.create_room(BOB, CreateRoom(room_alias_name="pub"))
    assert taken.value.errcode == "M_ROOM_IN_USE"
    with pytest.raises(MatrixError) as bad:
        await stack.actions.create_room(BOB, CreateRoom(room_alias_name="forbiddenthing"))
    assert bad.value.errcode == "M_BAD_ALIAS"


async def test_alias_permissions(stack: Stack) -> None:
    room = RoomId.parse(await stack.actions.create_room(ALICE, CreateRoom(preset="public_chat")))
    directory = Directory(stack.actions, stack.history)
    with pytest.raises(MatrixError):
        directory.create(BOB, alias("bobs"), room)  # not a member
    await stack.membership.join(BOB, str(room))
    directory.create(BOB, alias("bobs"), room)
    directory.create(ALICE, alias("alices"), room)
    with pytest.raises(MatrixError):
        directory.delete(BOB, alias("alices"))  # neither creator nor powerful
    directory.delete(ALICE, alias("bobs"))  # may change canonical alias
    assert directory.room_aliases(BOB, room) == [f"#alices:{SERVER}"]
    with pytest.raises(MatrixError):
        directory.set_visibility(BOB, room, "public")
    directory.set_visibility(ALICE, room, "public")
    assert directory.visibility(room) == "public"


async def test_lockdown_lets_only_admins_publish(stack: Stack) -> None:
    room = RoomId.parse(await stack.actions.create_room(ALICE, CreateRoom()))
    directory = Directory(
        stack.actions, stack.history, is_admin=lambda u: u == str(BOB), lockdown=True
    )
    with pytest.raises(MatrixError):
        directory.set_visibility(ALICE, room, "public")
    assert directory.visibility(room) == "private"
    directory.set_visibility(BOB, room, "public")
    assert directory.visibility(room) == "public"
