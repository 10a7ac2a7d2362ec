"""conduwuit's moderation options, each shown to bite through the client API of a
real server (and not to bite admins where conduwuit exempts them). Federation-side
ones: tests/http/federation/test_moderation_options.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.kit.homeserver import Homeserver, StartHomeserver, start_homeserver


async def users(hs: Homeserver) -> tuple[str, str]:
    """alice, the first user (a server admin), and bob, who is not."""
    alice = (await hs.register("alice"))["user_id"]
    bob = (await hs.register("bob"))["user_id"]
    return alice, bob


async def create(hs: Homeserver, user: str, **body: Any) -> tuple[int, Any]:
    return await hs.request("POST", "/createRoom", body, token=hs.tokens[user])


async def joined(hs: Homeserver, user: str) -> list[str]:
    status, reply = await hs.request("GET", "/joined_rooms", token=hs.tokens[user])
    assert status == 200
    rooms: list[str] = reply["joined_rooms"]
    return rooms


async def test_allow_room_creation_false_leaves_it_to_admins(start: StartHomeserver) -> None:
    hs = await start(allow_room_creation=False)
    alice, bob = await users(hs)
    status, error = await create(hs, bob)
    assert (status, error["errcode"]) == (403, "M_FORBIDDEN")
    assert await joined(hs, bob) == []
    status, _ = await create(hs, alice)
    assert status == 200


async def test_public_room_directory_needs_auth_unless_allowed(start: StartHomeserver) -> None:
    hs = await start()
    status, error = await hs.request("GET", "/publicRooms")
    assert (status, error["errcode"]) == (401, "M_MISSING_TOKEN")
    hs = await start(allow_public_room_directory_without_auth=True)
    alice, _ = await users(hs)
    status, created = await create(hs, alice, visibility="public", name="Open")
    assert status == 200
    status, listed = await hs.request("GET", "/publicRooms")
    assert status == 200
    assert [r["room_id"] for r in listed["chunk"]] == [created["room_id"]]


async def test_lockdown_public_room_directory(start: StartHomeserver) -> None:
    hs = await start(lockdown_public_room_directory=True)
    alice, bob = await users(hs)
    status, error = await create(hs, bob, visibility="public")
    assert (status, error["errcode"]) == (403, "M_FORBIDDEN")
    assert await joined(hs, bob) == []
    status, created = await create(hs, bob)
    room = created["room_id"]
    path = f"/directory/list/room/{room}"
    status, error = await hs.request("PUT", path, {"visibility": "public"}, token=hs.tokens[bob])
    assert (status, error["errcode"]) == (403, "M_FORBIDDEN")
    assert not hs.services.rooms.actions.aliases.is_published(room)
    # Admins may publish; anyone who may edit the room may unpublish.
    status, _ = await hs.request("PUT", path, {"visibility": "public"}, token=hs.tokens[alice])
    assert status == 200
    status, _ = await hs.request("PUT", path, {"visibility": "private"}, token=hs.tokens[bob])
    assert status == 200
    assert not hs.services.rooms.actions.aliases.is_published(room)


async def test_block_non_admin_invites(start: StartHomeserver) -> None:
    hs = await start(block_non_admin_invites=True)
    alice, bob = await users(hs)
    carol = (await hs.register("carol"))["user_id"]
    status, error = await create(hs, bob, invite=[carol])
    assert (status, error["error"]) == (403, "Invites are not allowed on this server")
    assert await joined(hs, bob) == []
    # Any member may invite (power levels are not what this tests).
    override = {"invite": 0}
    status, created = await create(
        hs, bob, preset="public_chat", power_level_content_override=override
    )
    room = created["room_id"]
    status, error = await hs.request(
        "POST", f"/rooms/{room}/invite", {"user_id": carol}, token=hs.tokens[bob]
    )
    assert (status, error["errcode"]) == (403, "M_FORBIDDEN")
    status, error = await hs.request(
        "PUT",
        f"/rooms/{room}/state/m.room.member/{carol}",
        {"membership": "invite"},
        token=hs.tokens[bob],
    )
    assert (status, error["errcode"]) == (403, "M_FORBIDDEN")
    assert hs.services.rooms.storage.member_index.membership(carol, room) is None
    # An admin's invites go.
    status, _ = await hs.request("POST", f"/join/{room}", {}, token=hs.tokens[alice])
    assert status == 200
    status, _ = await hs.request(
        "POST", f"/rooms/{room}/invite", {"user_id": carol}, token=hs.tokens[alice]
    )
    assert status == 200


async def test_forbidden_alias_names(tmp_path: Path) -> None:
    # An alias made before the option existed...
    hs = await start_homeserver(tmp_path / "db")
    try:
        alice, bob = await users(hs)
        status, created = await create(
            hs, alice, preset="public_chat", room_alias_name="spam-central"
        )
        assert status == 200
        room = created["room_id"]
    finally:
        await hs.close()
    hs = await start_homeserver(tmp_path / "db", forbidden_alias_names='["spam"]')
    try:
        for user in (alice, bob):
            hs.tokens[user] = (await hs.login(user.split(":")[0][1:]))["access_token"]
        # ...may not be created any more, by anyone...
        status, error = await create(hs, alice, room_alias_name="more-spam")
        assert (status, error["errcode"]) == (400, "M_BAD_ALIAS")
        status, error = await hs.request(
            "PUT",
            f"/directory/room/{quote('#Spam2:test.example')}",
            {"room_id": room},
            token=hs.tokens[alice],
        )
        assert (status, error["errcode"]) == (400, "M_BAD_ALIAS")
        # ...nor joined through by a non-admin; an admin may.
        alias = quote("#spam-central:test.example")
        status, error = await hs.request("POST", f"/join/{alias}", {}, token=hs.tokens[bob])
        assert (status, error["error"]) == (403, "This room alias is forbidden on this homeserver.")
        assert await joined(hs, bob) == []
        status, _ = await hs.request("POST", f"/join/{quote(room)}", {}, token=hs.tokens[bob])
        assert status == 200  # the room itself is not banned
        status, _ = await hs.request("POST", f"/rooms/{room}/leave", {}, token=hs.tokens[alice])
        assert status == 200
        status, _ = await hs.request("POST", f"/join/{alias}", {}, token=hs.tokens[alice])
        assert status == 200
    finally:
        await hs.close()


async def test_forbidden_usernames_in_availability(start: StartHomeserver) -> None:
    # Registration itself: tests/http/client/test_register.py.
    hs = await start(forbidden_usernames='["admin"]')
    status, error = await hs.request("GET", "/register/available", params={"username": "xadminx"})
    assert (status, error["errcode"]) == (400, "M_INVALID_USERNAME")
    status, _ = await hs.request("GET", "/register/available", params={"username": "alice"})
    assert status == 200


async def test_forbidden_remote_room_directory_server_names(start: StartHomeserver) -> None:
    """Local users may not ask a forbidden server's directory: 403 before anything is
    sent (Synapse-style remote directories: tests/e2e/test_federation_directory.py)."""
    hs = await start(forbidden_remote_room_directory_server_names='["bad.example"]')
    alice, _ = await users(hs)
    token = hs.tokens[alice]
    status, error = await hs.request("GET", "/publicRooms?server=bad.example", token=token)
    assert (status, error["errcode"]) == (403, "M_FORBIDDEN")
    body = {"filter": {"generic_search_term": "x"}}
    path = "/publicRooms?server=bad.example"
    status, error = await hs.request("POST", path, body, token=token)
    assert (status, error["errcode"]) == (403, "M_FORBIDDEN")
    # This server's own directory is not affected.
    status, listed = await hs.request("GET", "/publicRooms?server=test.example", token=token)
    assert status == 200 and listed["chunk"] == []
