"""GET /rooms/{roomId}/initialSync: the room as a member sees it (messages oldest
first with tokens that page on, state, presence, the user's room account data,
directory visibility); world-readable previews; refusals change nothing."""

from __future__ import annotations

from tests.kit.homeserver import Homeserver

from .conftest import Users


async def test_member_initial_sync(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    body = {"preset": "public_chat", "visibility": "public", "name": "Lobby"}
    room = (await users.ok(alice, "POST", "/createRoom", body))["room_id"]
    for i in range(3):
        await users.ok(alice, "PUT", f"/rooms/{room}/send/m.room.message/{i}", {"body": f"m{i}"})
    await users.ok(alice, "PUT", f"/user/{alice}/rooms/{room}/tags/u.x", {"order": 0.5})
    await users.ok(alice, "PUT", f"/presence/{alice}/status", {"presence": "online"})

    reply = await users.ok(alice, "GET", f"/rooms/{room}/initialSync", limit="2")
    assert reply["room_id"] == room
    assert reply["membership"] == "join"
    assert reply["visibility"] == "public"
    assert [e["content"]["body"] for e in reply["messages"]["chunk"]] == ["m1", "m2"]
    assert {(e["type"], e["state_key"]) for e in reply["state"]} >= {
        ("m.room.create", ""),
        ("m.room.name", ""),
        ("m.room.member", alice),
    }
    assert {"type": "m.tag", "content": {"tags": {"u.x": {"order": 0.5}}}} in reply["account_data"]
    assert [p["sender"] for p in reply["presence"]] == [alice]
    assert reply["presence"][0]["content"]["presence"] == "online"
    # `start` pages back to the older message.
    older = await users.ok(
        alice, "GET", f"/rooms/{room}/messages", **{"from": reply["messages"]["start"], "dir": "b"}
    )
    assert older["chunk"][0]["content"]["body"] == "m0"


async def test_preview_and_leaver(hs: Homeserver, users: Users) -> None:
    alice, bob, eve = await users.add("alice"), await users.add("bob"), await users.add("eve")
    readable = {
        "preset": "public_chat",
        "initial_state": [
            {
                "type": "m.room.history_visibility",
                "content": {"history_visibility": "world_readable"},
            }
        ],
    }
    room = (await users.ok(alice, "POST", "/createRoom", readable))["room_id"]
    await users.ok(alice, "PUT", f"/rooms/{room}/send/m.room.message/1", {"body": "hello"})
    preview = await users.ok(eve, "GET", f"/rooms/{room}/initialSync")
    assert "membership" not in preview and preview["visibility"] == "private"
    assert preview["presence"] == []
    assert preview["messages"]["chunk"][-1]["content"]["body"] == "hello"

    private = (await users.ok(alice, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    await users.ok(bob, "POST", f"/rooms/{private}/join", {})
    await users.ok(bob, "POST", f"/rooms/{private}/leave", {})
    await users.ok(alice, "PUT", f"/rooms/{private}/send/m.room.message/2", {"body": "after"})
    left = await users.ok(bob, "GET", f"/rooms/{private}/initialSync")
    assert left["membership"] == "leave"
    bodies = [e["content"].get("body") for e in left["messages"]["chunk"]]
    assert "after" not in bodies
    assert left["messages"]["chunk"][-1]["content"]["membership"] == "leave"


async def test_initial_sync_refusals(hs: Homeserver, users: Users) -> None:
    alice, eve = await users.add("alice"), await users.add("eve")
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "private_chat"}))["room_id"]
    refusals = [
        (eve, f"/rooms/{room}/initialSync", {}, 403, "M_FORBIDDEN"),
        (alice, "/rooms/not-a-room/initialSync", {}, 400, "M_INVALID_PARAM"),
        (alice, f"/rooms/{room}/initialSync", {"limit": "-1"}, 400, "M_INVALID_PARAM"),
        (alice, f"/rooms/{room}/initialSync", {"limit": "many"}, 400, "M_INVALID_PARAM"),
    ]
    for who, path, params, status, errcode in refusals:
        got, reply = await users.call(who, "GET", path, **params)
        assert (got, reply["errcode"]) == (status, errcode), (path, params, reply)
    got, reply = await hs.request("GET", f"/rooms/{room}/initialSync")
    assert (got, reply["errcode"]) == (401, "M_MISSING_TOKEN")
