"""``!admin rooms alias`` and ``!admin rooms directory`` through the admin room."""

from __future__ import annotations

from urllib.parse import quote

from tests.admin.kit import ADMIN_ROOM, admin_room_id, command
from tests.kit.homeserver import Homeserver, StartHomeserver


async def room_of(hs: Homeserver, user: str, **body: object) -> str:
    status, created = await hs.request("POST", "/createRoom", body, token=hs.tokens[user])
    assert status == 200, created
    room_id: str = created["room_id"]
    return room_id


async def resolves_to(hs: Homeserver, alias: str) -> str | None:
    status, reply = await hs.request("GET", f"/directory/room/{quote(alias)}")
    if status == 404:
        return None
    assert status == 200, reply
    room_id: str = reply["room_id"]
    return room_id


async def test_alias_set_which_list_remove(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    room = await room_of(hs, alice)
    other = await room_of(hs, alice)
    reply = await command(hs, alice, f"!admin rooms alias set {room} family")
    assert reply["body"] == f"#family:test.example now points to {room}."
    assert await resolves_to(hs, "#family:test.example") == room
    reply = await command(hs, alice, "!admin rooms alias which family")
    assert reply["body"] == f"#family:test.example points to {room}."
    # Taken: refused without --force, nothing changed; moved with it.
    reply = await command(hs, alice, f"!admin rooms alias set {other} family")
    assert reply["body"].startswith("Error: #family:test.example already points to")
    assert await resolves_to(hs, "#family:test.example") == room
    reply = await command(
        hs, alice, f"!admin rooms alias set --force {other} '#family:test.example'"
    )
    assert reply["body"].endswith(f"(it pointed to {room}).")
    assert await resolves_to(hs, "#family:test.example") == other
    reply = await command(hs, alice, "!admin rooms alias list")
    assert reply["body"] == (
        "Local aliases (2):\n```\n"
        f"{ADMIN_ROOM} -> {admin_room_id(hs)}\n#family:test.example -> {other}\n```"
    )
    reply = await command(hs, alice, f"!admin rooms alias list {other}")
    assert reply["body"] == f"Aliases of {other} (1):\n```\n#family:test.example\n```"
    reply = await command(hs, alice, "!admin rooms alias remove family")
    assert reply["body"] == f"Removed #family:test.example (it pointed to {other})."
    assert await resolves_to(hs, "#family:test.example") is None
    for bad in (
        "rooms alias remove family",
        "rooms alias which nope",
        "rooms alias which '#x:elsewhere.example'",
        "rooms alias set !unknown:test.example fam",
        f"rooms alias set {room} bad:alias",
        "rooms alias list !unknown:test.example",
    ):
        reply = await command(hs, alice, f"!admin {bad}")
        assert reply["body"].startswith("Error: "), (bad, reply)
    assert await resolves_to(hs, "#fam:test.example") is None
    reply = await command(hs, alice, "!admin rooms alias set")
    assert "the following arguments are required: room, alias" in reply["body"]


async def test_alias_set_obeys_forbidden_alias_names(start: StartHomeserver) -> None:
    hs = await start(forbidden_alias_names='["badword"]')
    alice = (await hs.register("alice"))["user_id"]
    room = await room_of(hs, alice)
    reply = await command(hs, alice, f"!admin rooms alias set {room} my-badword-room")
    assert reply["body"] == "Error: Alias name is not allowed"
    assert await resolves_to(hs, "#my-badword-room:test.example") is None


async def test_directory_publish_unpublish_list(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    room = await room_of(hs, alice, name="Family")

    async def listed() -> list[str]:
        status, reply = await hs.request("GET", "/publicRooms", token=hs.tokens[alice])
        assert status == 200
        return [r["room_id"] for r in reply["chunk"]]

    assert await listed() == []
    reply = await command(hs, alice, f"!admin rooms directory publish {room}")
    assert reply["body"] == f"{room} is published in the room directory."
    assert await listed() == [room]
    reply = await command(hs, alice, "!admin rooms directory list")
    assert reply["body"] == f"Published rooms (1):\n```\n{room}\n```"
    reply = await command(hs, alice, f"!admin rooms directory unpublish {room}")
    assert reply["body"] == f"{room} is no longer published in the room directory."
    assert await listed() == []
    reply = await command(hs, alice, f"!admin rooms directory unpublish {room}")
    assert reply["body"] == f"Error: {room} is not published"
    reply = await command(hs, alice, "!admin rooms directory publish !unknown:test.example")
    assert reply["body"] == "Error: Room !unknown:test.example is not known here"
    assert await listed() == []


async def test_non_admin_refused(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    bob = (await hs.register("bob"))["user_id"]
    room = await room_of(hs, bob)
    # bob is not in the admin room: invite him there to speak (admins may invite).
    status, _ = await hs.request(
        "POST", f"/rooms/{admin_room_id(hs)}/invite", {"user_id": bob}, token=hs.tokens[alice]
    )
    assert status == 200
    status, _ = await hs.request("POST", f"/join/{admin_room_id(hs)}", {}, token=hs.tokens[bob])
    assert status == 200
    reply = await command(hs, bob, f"!admin rooms directory publish {room}")
    assert reply["body"] == f"{bob} is not a server admin: commands are only for admins."
    assert not hs.services.rooms.actions.aliases.is_published(room)
