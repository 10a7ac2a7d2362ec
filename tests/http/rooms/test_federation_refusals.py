"""Client actions that need another server answer 502 M_UNKNOWN "... over federation
is not available yet" instead of a silent success, and change nothing."""

from __future__ import annotations

from urllib.parse import quote

from tests.kit.homeserver import Homeserver, StartHomeserver

from .conftest import Users

REMOTE_USER = "@bob:remote.example"


def refused(status: int, reply: dict[str, object]) -> None:
    assert status == 502, (status, reply)
    assert reply["errcode"] == "M_UNKNOWN"
    assert "over federation is not available yet" in str(reply["error"])


async def test_a_remote_invite_with_federation_off_changes_nothing(
    start: StartHomeserver,
) -> None:
    """Remote invites go over federation (tests/service/federation/test_invites.py);
    with it off they are 403 and write nothing."""
    users = Users(await start(allow_federation=False))
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {}))["room_id"]
    ids_before = {e["event_id"] for e in await users.ok(alice, "GET", f"/rooms/{room}/state")}
    status, reply = await users.call(
        alice, "POST", f"/rooms/{room}/invite", {"user_id": REMOTE_USER}
    )
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN"), reply
    path = f"/rooms/{room}/state/m.room.member/{quote(REMOTE_USER)}"
    status, reply = await users.call(alice, "PUT", path, {"membership": "invite"})
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN"), reply
    ids_after = {e["event_id"] for e in await users.ok(alice, "GET", f"/rooms/{room}/state")}
    assert ids_after == ids_before


async def test_knocking_on_remote_rooms_needs_federation(start: StartHomeserver) -> None:
    """Remote knocks go over federation (tests/e2e/test_federation_membership.py):
    with it off they are 403, with the server unreachable 502; neither writes."""
    for allow, status, errcode in ((False, 403, "M_FORBIDDEN"), (True, 502, "M_UNKNOWN")):
        users = Users(await start(allow_federation=allow))
        await users.add("admin")  # the first user joins the admin room: not alice
        alice = await users.add("alice")
        for target in ("#room:remote.example", "!abc:remote.example"):
            reply = await users.call(alice, "POST", f"/knock/{quote(target)}", {})
            assert (reply[0], reply[1]["errcode"]) == (status, errcode), reply
        path = f"/knock/{quote('!abc:test.example')}"
        reply = await users.call(alice, "POST", path, {}, via="remote.example")
        assert (reply[0], reply[1]["errcode"]) == (status, errcode), reply
        sync = await users.ok(alice, "GET", "/sync")
        assert sync["rooms"].get("knock", {}) == {} and sync["rooms"].get("join", {}) == {}


async def test_remote_joins_need_federation(start: StartHomeserver) -> None:
    """Remote joins go over federation (tests/service/federation/test_joins.py); with
    it off they are 403, and an unknown room of ours is 404."""
    hs = await start(allow_federation=False)
    users = Users(hs)
    await users.add("admin")  # the first user joins the admin room: not alice
    alice = await users.add("alice")
    for target in ("#room:remote.example", "!abc:remote.example"):
        status, reply = await users.call(alice, "POST", f"/join/{quote(target)}", {})
        assert (status, reply["errcode"]) == (403, "M_FORBIDDEN"), reply
    path = f"/rooms/{quote('!abc:remote.example')}/join"
    status, reply = await users.call(alice, "POST", path, {})
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN"), reply
    status, reply = await users.call(alice, "POST", f"/join/{quote('!abc:test.example')}", {})
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
    path = f"/join/{quote('!abc:test.example')}"
    for param in ("via", "server_name"):
        status, reply = await users.call(alice, "POST", path, {}, **{param: "remote.example"})
        assert (status, reply["errcode"]) == (403, "M_FORBIDDEN"), reply
    status, reply = await users.call(alice, "POST", path, {}, via="bad name")
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")
    assert (await users.ok(alice, "GET", "/joined_rooms"))["joined_rooms"] == []


async def test_via_our_own_server_joins_a_local_room(users: Users) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    await users.ok(bob, "POST", f"/join/{quote(room)}", {}, via="test.example")
    assert room in (await users.ok(bob, "GET", "/joined_rooms"))["joined_rooms"]


async def test_another_servers_public_rooms_unreachable_or_malformed(
    hs: Homeserver, users: Users
) -> None:
    """Asked over federation (tests/http/federation/test_directory.py); a server
    that cannot be reached is 502."""
    alice = await users.add("alice")
    for method, body in (("GET", None), ("POST", {})):
        status, reply = await users.call(
            alice, method, "/publicRooms", body, server="remote.invalid"
        )
        assert (status, reply["errcode"]) == (502, "M_UNKNOWN"), reply
        assert "remote.invalid" in reply["error"]
    ours = await users.ok(alice, "GET", "/publicRooms", server="test.example")
    assert ours["chunk"] == []
    # An empty server is this server (as in Synapse); a malformed one is a bad request.
    assert (await users.ok(alice, "GET", "/publicRooms", server=""))["chunk"] == []
    for method in ("GET", "POST"):
        status, reply = await users.call(
            alice, method, "/publicRooms", {} if method == "POST" else None, server="o\x1cc:x"
        )
        assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM"), reply
