"""Spaces hierarchy, user directory and presence over HTTP."""

from __future__ import annotations

from tests.kit.homeserver import Homeserver, StartHomeserver
from tests.kit.rooms import restricted_to

from .conftest import Users

V1 = "/_matrix/client/v1"


async def test_hierarchy_walks_local_children(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    bob = await users.add("bob")
    space = (
        await users.ok(
            alice,
            "POST",
            "/createRoom",
            {"preset": "public_chat", "name": "Space", "creation_content": {"type": "m.space"}},
        )
    )["room_id"]
    public = (await users.ok(alice, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    private = (await users.ok(alice, "POST", "/createRoom", {}))["room_id"]
    # Listed in `order`, whatever the room IDs are.
    for child, suggested, order in ((public, True, "b"), (private, False, "c")):
        await users.ok(
            alice,
            "PUT",
            f"/rooms/{space}/state/m.space.child/{child}",
            {"via": ["test.example"], "suggested": suggested, "order": order},
        )
    mine = await users.ok(alice, "GET", f"{V1}/rooms/{space}/hierarchy")
    assert [r["room_id"] for r in mine["rooms"]] == [space, public, private]
    assert mine["rooms"][0]["room_type"] == "m.space"
    assert len(mine["rooms"][0]["children_state"]) == 2
    theirs = await users.ok(bob, "GET", f"{V1}/rooms/{space}/hierarchy")
    assert [r["room_id"] for r in theirs["rooms"]] == [space, public]
    suggested_only = await users.ok(
        alice, "GET", f"{V1}/rooms/{space}/hierarchy", suggested_only="true"
    )
    assert [r["room_id"] for r in suggested_only["rooms"]] == [space, public]
    first = await users.ok(alice, "GET", f"{V1}/rooms/{space}/hierarchy", limit="1")
    assert len(first["rooms"]) == 1 and first["next_batch"] == "1"
    status, _ = await users.call(bob, "GET", f"{V1}/rooms/{private}/hierarchy")
    assert status == 403


async def test_hierarchy_is_depth_first_over_spaces_only(hs: Homeserver, users: Users) -> None:
    """Synapse's walk: depth-first in the children's order; a room that is not a
    space has no children; a restricted room shows to members of an allowed room."""
    alice = await users.add("alice2")
    bob = await users.add("bob2")

    async def room(name: str, space: bool = False, **extra: object) -> str:
        body: dict[str, object] = {"preset": "public_chat", "name": name, **extra}
        if space:
            body["creation_content"] = {"type": "m.space"}
        return str((await users.ok(alice, "POST", "/createRoom", body))["room_id"])

    async def link(parent: str, child: str, order: str) -> None:
        path = f"/rooms/{parent}/state/m.space.child/{child}"
        await users.ok(alice, "PUT", path, {"via": ["test.example"], "order": order})

    root, sub = await room("Root", space=True), await room("Sub", space=True)
    first, deep, last, hidden = [await room(n) for n in ("First", "Deep", "Last", "Hidden")]
    restricted = await room(
        "Members only",
        room_version="10",
        initial_state=restricted_to(root),
    )
    await link(root, first, "a")
    await link(root, sub, "b")
    await link(root, last, "c")
    await link(sub, deep, "a")
    await link(sub, restricted, "b")
    await link(first, hidden, "a")  # First is not a space: ignored
    walk = await users.ok(alice, "GET", f"{V1}/rooms/{root}/hierarchy")
    assert [r["room_id"] for r in walk["rooms"]] == [root, first, sub, deep, restricted, last]
    assert walk["rooms"][1]["children_state"] == []
    # max_depth stops the walk, not the listing of a space's children.
    shallow = await users.ok(alice, "GET", f"{V1}/rooms/{root}/hierarchy", max_depth="1")
    assert [r["room_id"] for r in shallow["rooms"]] == [root, first, sub, last]
    assert len(shallow["rooms"][2]["children_state"]) == 2
    # bob may not join the restricted room until he is in the space.
    outside = await users.ok(bob, "GET", f"{V1}/rooms/{root}/hierarchy")
    assert restricted not in [r["room_id"] for r in outside["rooms"]]
    await users.ok(bob, "POST", f"/rooms/{root}/join", {})
    inside = await users.ok(bob, "GET", f"{V1}/rooms/{root}/hierarchy")
    assert restricted in [r["room_id"] for r in inside["rooms"]]


async def test_user_directory(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    bob = await users.add("bob")
    carol = await users.add("carol")
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    await users.ok(bob, "POST", f"/rooms/{room}/join", {})
    found = await users.ok(alice, "POST", "/user_directory/search", {"search_term": "bo"})
    assert [r["user_id"] for r in found["results"]] == [bob]
    assert found["results"][0]["display_name"] == "bob"
    hidden = await users.ok(carol, "POST", "/user_directory/search", {"search_term": "bo"})
    assert hidden["results"] == []
    status, _ = await users.call(alice, "POST", "/user_directory/search", {})
    assert status == 400


async def test_presence(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    bob = await users.add("bob")
    carol = await users.add("carol")
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    await users.ok(bob, "POST", f"/rooms/{room}/join", {})
    await users.ok(
        alice, "PUT", f"/presence/{alice}/status", {"presence": "online", "status_msg": "hi"}
    )
    seen = await users.ok(bob, "GET", f"/presence/{alice}/status")
    assert seen["presence"] == "online" and seen["status_msg"] == "hi"
    hs.clock.advance(301_000)
    assert (await users.ok(bob, "GET", f"/presence/{alice}/status"))["presence"] == "unavailable"
    hs.clock.advance(1_800_000)
    assert (await users.ok(bob, "GET", f"/presence/{alice}/status"))["presence"] == "offline"
    status, _ = await users.call(carol, "GET", f"/presence/{alice}/status")
    assert status == 403
    status, _ = await users.call(bob, "PUT", f"/presence/{alice}/status", {"presence": "online"})
    assert status == 403
    status, reply = await users.call(
        alice, "PUT", f"/presence/{alice}/status", {"presence": "away"}
    )
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")


async def test_presence_can_be_disabled(start: StartHomeserver) -> None:
    hs = await start(allow_local_presence=False)
    users = Users(hs)
    alice = await users.add("alice")
    status, _ = await users.call(alice, "PUT", f"/presence/{alice}/status", {"presence": "online"})
    assert status == 403


async def test_room_summary(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    bob = await users.add("bob")
    public = (
        await users.ok(
            alice,
            "POST",
            "/createRoom",
            {"preset": "public_chat", "name": "Open", "room_alias_name": "open"},
        )
    )["room_id"]
    private = (await users.ok(alice, "POST", "/createRoom", {"name": "Closed"}))["room_id"]
    summary = await users.ok(bob, "GET", f"{V1}/room_summary/%23open:test.example")
    assert summary["room_id"] == public and summary["name"] == "Open"
    assert summary["room_version"] == "11" and "membership" not in summary
    status, anonymous = await hs.request("GET", f"{V1}/room_summary/{public}")
    assert status == 200 and anonymous["num_joined_members"] == 1
    status, _ = await users.call(bob, "GET", f"{V1}/room_summary/{private}")
    assert status == 404
    mine = await users.ok(alice, "GET", f"{V1}/room_summary/{private}")
    assert mine["membership"] == "join"
