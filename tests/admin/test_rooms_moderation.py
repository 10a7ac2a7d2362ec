"""``!admin rooms moderation`` through the admin room: banning a room evicts local
users, takes its aliases and directory entry, and blocks joins and invites of
non-admins (persisted); ``auto_deactivate_banned_room_attempts``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from tests.admin.kit import admin_room_id, command
from tests.kit.homeserver import Homeserver, StartHomeserver, start_homeserver


async def joined(hs: Homeserver, user: str) -> list[str]:
    status, reply = await hs.request("GET", "/joined_rooms", token=hs.tokens[user])
    assert status == 200, reply
    rooms: list[str] = reply["joined_rooms"]
    return rooms


async def join(hs: Homeserver, user: str, room: str) -> tuple[int, dict[str, str]]:
    return await hs.request("POST", f"/join/{quote(room)}", {}, token=hs.tokens[user])


async def public_room(hs: Homeserver, user: str, alias: str) -> str:
    status, created = await hs.request(
        "POST",
        "/createRoom",
        {
            "preset": "public_chat",
            "room_alias_name": alias,
            "visibility": "public",
            # Any member may invite: the tests are about the server's rules, not power.
            "power_level_content_override": {"invite": 0},
        },
        token=hs.tokens[user],
    )
    assert status == 200, created
    room_id: str = created["room_id"]
    return room_id


def membership(hs: Homeserver, user: str, room_id: str) -> str | None:
    return hs.services.rooms.storage.member_index.membership(user, room_id)


async def test_ban_room_evicts_and_blocks_joins_and_invites(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]  # the first user: an admin
    bob, carol, dave = [(await hs.register(n))["user_id"] for n in ("bob", "carol", "dave")]
    room = await public_room(hs, bob, "bobs")
    assert (await join(hs, carol, room))[0] == 200
    status, _ = await hs.request(
        "POST", f"/rooms/{room}/invite", {"user_id": dave}, token=hs.tokens[bob]
    )
    assert status == 200

    reply = await command(hs, alice, "!admin rooms moderation ban-room '#bobs:test.example'")
    assert reply["body"] == f"Banned {room}; 3 local user(s) made to leave."
    assert await joined(hs, bob) == [] and await joined(hs, carol) == []
    assert membership(hs, dave, room) == "leave"
    status, _ = await hs.request("GET", f"/directory/room/{quote('#bobs:test.example')}")
    assert status == 404
    status, listed = await hs.request("GET", "/publicRooms", token=hs.tokens[bob])
    assert listed["chunk"] == []
    reply = await command(hs, alice, "!admin rooms moderation list-banned-rooms")
    assert reply["body"] == f"Banned rooms (1):\n```\n{room}\n```"

    # Non-admins may not join (by ID) nor be let in; they stay active (option off).
    status, error = await join(hs, bob, room)
    assert (status, error["errcode"]) == (403, "M_FORBIDDEN")
    assert error["error"] == "This room is banned on this homeserver."
    assert membership(hs, bob, room) == "leave"
    assert hs.services.users.accounts.is_active(bob)
    # Admins may; an invite from an admin goes, one from a non-admin does not.
    assert (await join(hs, alice, room))[0] == 200
    await command(hs, alice, f"!admin users make-user-admin {carol}")
    assert (await join(hs, carol, room))[0] == 200
    await command(hs, alice, f"!admin users revoke-user-admin {carol}")
    status, error = await hs.request(
        "POST", f"/rooms/{room}/invite", {"user_id": dave}, token=hs.tokens[carol]
    )
    assert (status, error["error"]) == (403, "This room is banned on this homeserver.")
    assert membership(hs, dave, room) == "leave"
    status, _ = await hs.request(
        "POST", f"/rooms/{room}/invite", {"user_id": dave}, token=hs.tokens[alice]
    )
    assert status == 200

    reply = await command(hs, alice, f"!admin rooms moderation unban-room {room}")
    assert reply["body"].startswith(f"Unbanned {room}: local users may join it again")
    assert (await join(hs, bob, room))[0] == 200
    reply = await command(hs, alice, "!admin rooms moderation list-banned-rooms")
    assert reply["body"] == "Banned rooms (0):\n```\n\n```"


async def test_ban_refusals_change_nothing(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    for line, error in (
        (f"ban-room {admin_room_id(hs)}", "Error: The admin room cannot be banned"),
        ("ban-room '#admins:test.example'", "Error: The admin room cannot be banned"),
        ("ban-room '#nope:test.example'", "Error: No room has the alias #nope:test.example"),
        ("ban-room not-a-room", "Error: 'not-a-room' is not a room ID or alias"),
        ("unban-room !abc:test.example", "Error: !abc:test.example is not banned"),
        ("ban-list-of-rooms", "Error: Give the rooms (IDs or aliases) in a code block"),
    ):
        reply = await command(hs, alice, f"!admin rooms moderation {line}")
        assert reply["body"].startswith(error), (line, reply)
    assert hs.services.rooms.metadata.banned() == []
    assert await joined(hs, alice) == [admin_room_id(hs)]


async def test_ban_list_of_rooms_all_or_nothing(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    bob = (await hs.register("bob"))["user_id"]
    one = await public_room(hs, bob, "one")
    two = await public_room(hs, bob, "two")
    bad = f"!admin rooms moderation ban-list-of-rooms\n```\n{one}\n#nope:test.example\n```"
    reply = await command(hs, alice, bad)
    assert reply["body"].startswith("Error: No room has the alias #nope:test.example")
    assert hs.services.rooms.metadata.banned() == []
    assert sorted(await joined(hs, bob)) == sorted([one, two])
    good = f"!admin rooms moderation ban-list-of-rooms\n```\n{one}\n#two:test.example\n```"
    reply = await command(hs, alice, good)
    assert reply["body"].splitlines() == [
        f"Banned {one}; 1 local user(s) made to leave.",
        f"Banned {two}; 1 local user(s) made to leave.",
    ]
    assert await joined(hs, bob) == []
    # A remote room ID not known here can be banned ahead of time.
    reply = await command(hs, alice, "!admin rooms moderation ban-room !far:elsewhere.example")
    assert reply["body"] == "Banned !far:elsewhere.example; 0 local user(s) made to leave."
    assert sorted(hs.services.rooms.metadata.banned()) == sorted(
        [one, two, "!far:elsewhere.example"]
    )


async def test_a_ban_survives_a_restart(tmp_path: Path) -> None:
    hs = await start_homeserver(tmp_path / "db")
    try:
        alice = (await hs.register("alice"))["user_id"]
        bob = (await hs.register("bob"))["user_id"]
        room = await public_room(hs, bob, "bobs")
        await command(hs, alice, f"!admin rooms moderation ban-room {room}")
    finally:
        await hs.close()
    hs = await start_homeserver(tmp_path / "db")
    try:
        hs.tokens[bob] = (await hs.login("bob"))["access_token"]
        hs.tokens[alice] = (await hs.login("alice"))["access_token"]
        status, error = await join(hs, bob, room)
        assert (status, error["errcode"]) == (403, "M_FORBIDDEN")
        reply = await command(hs, alice, "!admin rooms moderation list-banned-rooms")
        assert room in reply["body"]
    finally:
        await hs.close()


async def test_auto_deactivate_banned_room_attempts(start: StartHomeserver) -> None:
    hs = await start(auto_deactivate_banned_room_attempts=True)
    alice = (await hs.register("alice"))["user_id"]
    bob = (await hs.register("bob"))["user_id"]
    carol = (await hs.register("carol"))["user_id"]
    room = await public_room(hs, carol, "carols")
    other = await public_room(hs, carol, "other")
    assert (await join(hs, bob, other))[0] == 200
    await command(hs, alice, f"!admin rooms moderation ban-room {room}")
    status, error = await join(hs, bob, room)
    assert (status, error["errcode"]) == (403, "M_FORBIDDEN")
    # Deactivated: logged out, and out of every room.
    assert not hs.services.users.accounts.is_active(bob)
    status, _ = await hs.request("GET", "/account/whoami", token=hs.tokens[bob])
    assert status == 401
    assert membership(hs, bob, other) == "leave"
    # Admins are never deactivated for it: they may join.
    assert (await join(hs, alice, room))[0] == 200
    assert hs.services.users.accounts.is_active(alice)
