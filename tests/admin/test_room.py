"""The admin room: made for the first user, never public, its server user."""

from __future__ import annotations

from pathlib import Path

from conduwuit.runtime import RunningServer
from conduwuit.server import build_services
from conduwuit.service.users.ids import AccountUserId
from tests.admin.kit import ADMIN_ROOM, BOT, admin_room_id
from tests.kit.homeserver import (
    PASSWORD,
    Homeserver,
    StartHomeserver,
    homeserver_config,
    start_homeserver,
)
from tests.kit.server import free_port


async def test_first_user_is_joined_with_power(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    status, reply = await hs.request("GET", f"/directory/room/{ADMIN_ROOM.replace('#', '%23')}")
    assert status == 200, reply
    room_id = reply["room_id"]
    status, joined = await hs.request("GET", "/joined_rooms", token=hs.tokens[alice])
    assert joined["joined_rooms"] == [room_id]
    status, power = await hs.request(
        "GET", f"/rooms/{room_id}/state/m.room.power_levels", token=hs.tokens[alice]
    )
    assert power["users"] == {BOT: 101, alice: 100}
    status, create = await hs.request(
        "GET", f"/rooms/{room_id}/state/m.room.create", token=hs.tokens[alice]
    )
    assert create.get("m.federate") is False


async def test_later_users_are_not_invited(hs: Homeserver) -> None:
    await hs.register("alice")
    bob = (await hs.register("bob"))["user_id"]
    status, joined = await hs.request("GET", "/joined_rooms", token=hs.tokens[bob])
    assert status == 200
    assert joined["joined_rooms"] == []


async def test_admin_room_cannot_be_made_public_or_world_readable(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    room_id = admin_room_id(hs)
    for event_type, content in (
        ("m.room.join_rules", {"join_rule": "public"}),
        ("m.room.history_visibility", {"history_visibility": "world_readable"}),
    ):
        status, reply = await hs.request(
            "PUT", f"/rooms/{room_id}/state/{event_type}", content, token=hs.tokens[alice]
        )
        assert status == 403, reply
        assert reply["errcode"] == "M_FORBIDDEN"
    status, rules = await hs.request(
        "GET", f"/rooms/{room_id}/state/m.room.join_rules", token=hs.tokens[alice]
    )
    assert rules["join_rule"] == "invite"
    status, vis = await hs.request(
        "GET", f"/rooms/{room_id}/state/m.room.history_visibility", token=hs.tokens[alice]
    )
    assert vis["history_visibility"] == "shared"
    # Other rooms may still be made public.
    status, created = await hs.request("POST", "/createRoom", {}, token=hs.tokens[alice])
    status, reply = await hs.request(
        "PUT",
        f"/rooms/{created['room_id']}/state/m.room.join_rules",
        {"join_rule": "public"},
        token=hs.tokens[alice],
    )
    assert status == 200, reply


async def test_server_user_cannot_log_in(hs: Homeserver) -> None:
    await hs.register("alice")
    for password in ("", PASSWORD):
        status, reply = await hs.request(
            "POST",
            "/login",
            {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": BOT},
                "password": password,
            },
        )
        assert status == 403, reply


async def test_server_user_and_room_are_made_once(tmp_path: Path) -> None:
    path = tmp_path / "db"
    hs = await start_homeserver(path)
    try:
        await hs.register("alice")
        room_id = admin_room_id(hs)
        account = hs.services.users.accounts.get(BOT)
        assert account is not None and account.is_admin
    finally:
        await hs.close()
    hs = await start_homeserver(path)
    try:
        assert admin_room_id(hs) == room_id
        again = await hs.admin.room.ensure()
        assert again == room_id
        assert hs.services.users.accounts.get(BOT) == account
        users = [u for u, _ in hs.services.users.accounts.all()]
        assert users.count(AccountUserId(BOT)) == 1
    finally:
        await hs.close()


async def test_server_user_name_is_reserved(hs: Homeserver) -> None:
    body = {"username": "conduit", "password": PASSWORD, "auth": {"type": "m.login.dummy"}}
    status, reply = await hs.request("POST", "/register", body)
    assert status == 400, reply
    assert reply["errcode"] == "M_USER_IN_USE"
    assert not hs.services.users.accounts.any_account()


async def test_admins_from_before_the_admin_room_get_it_at_start(tmp_path: Path) -> None:
    path = tmp_path / "db"
    config = homeserver_config(path)
    services = build_services(config)
    try:
        accounts = services.users.accounts
        # Accounts made before the admin room existed: the first is an admin.
        for name in ("old", "older", "plain"):
            with services.db.batch() as b:
                accounts.create(b, AccountUserId(f"@{name}:test.example"), None, is_guest=False)
        accounts.set_admin("@older:test.example", True)
    finally:
        services.close()
    server = RunningServer(homeserver_config(path, port=free_port(), address="127.0.0.1"))
    await server.start()
    try:
        room_id = server.server.admin.room.room_id()
        assert room_id is not None
        members = server.server.services.rooms.storage.member_index
        assert sorted(members.members(room_id)) == [
            BOT,
            "@old:test.example",
            "@older:test.example",
        ]
    finally:
        await server.stop()
    # Nothing is made twice on the next start.
    server = RunningServer(homeserver_config(path, port=free_port(), address="127.0.0.1"))
    await server.start()
    try:
        assert server.server.admin.room.room_id() == room_id
    finally:
        await server.stop()


async def test_admin_room_is_made_when_users_may_not_create_rooms(
    start: StartHomeserver,
) -> None:
    hs = await start(allow_room_creation=False)
    alice = (await hs.register("alice"))["user_id"]
    status, joined = await hs.request("GET", "/joined_rooms", token=hs.tokens[alice])
    assert (status, joined["joined_rooms"]) == (200, [admin_room_id(hs)])
    # Users may not; admins (alice, the first user) may, as in conduwuit.
    bob = (await hs.register("bob"))["user_id"]
    status, reply = await hs.request("POST", "/createRoom", {}, token=hs.tokens[bob])
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    status, reply = await hs.request("POST", "/createRoom", {}, token=hs.tokens[alice])
    assert status == 200
