"""Behaviour Complement's csapi tests (from sytest) expect and Synapse has, over HTTP:
one test per fix, named after the Complement test it stands in for.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from tests.kit.homeserver import Homeserver


async def user(hs: Homeserver, name: str) -> str:
    return str((await hs.register(name))["access_token"])


async def room(hs: Homeserver, token: str, **body: Any) -> str:
    status, reply = await hs.request(
        "POST", "/createRoom", {"preset": "public_chat", **body}, token=token
    )
    assert status == 200, reply
    return str(reply["room_id"])


async def send(hs: Homeserver, token: str, room_id: str, body: str, txn: str) -> str:
    status, reply = await hs.request(
        "PUT",
        f"/rooms/{room_id}/send/m.room.message/{txn}",
        {"msgtype": "m.text", "body": body},
        token=token,
    )
    assert status == 200, reply
    return str(reply["event_id"])


async def sync(hs: Homeserver, token: str, **params: str) -> dict[str, Any]:
    status, reply = await hs.request("GET", "/sync", token=token, params={"timeout": "0", **params})
    assert status == 200, reply
    result: dict[str, Any] = reply
    return result


# -- TestLogin, TestRegistration: "yields a set of flows" --------------------------------
async def test_json_content_type_has_no_charset(hs: Homeserver) -> None:
    for method, path in (("GET", "/login"), ("POST", "/register")):
        async with hs.client.request(method, f"/_matrix/client/v3{path}", data=b"{}") as response:
            assert response.headers["Content-Type"] == "application/json"


# -- TestFilter ----------------------------------------------------------------------------
async def test_filter_with_malformed_ids_is_refused(hs: Homeserver) -> None:
    token = await user(hs, "alice")
    path = f"/user/{quote('@alice:' + hs.config.server_name)}/filter"
    for bad in (
        {"room": {"timeline": {"rooms": ["not_a_room_id"]}}},
        {"room": {"not_rooms": ["nope"]}},
        {"room": {"timeline": {"senders": ["not_a_sender_id"]}}},
        {"presence": {"not_senders": ["x"]}},
    ):
        status, reply = await hs.request("POST", path, bad, token=token)
        assert (status, reply["errcode"]) == (400, "M_BAD_JSON"), bad
    good = {"room": {"rooms": ["!a:b"], "timeline": {"senders": ["@a:b"]}}}
    assert (await hs.request("POST", path, good, token=token))[0] == 200


# -- TestRoomMembers: "POST /join/:room_id can join a room with custom content" -----------
async def test_join_body_goes_into_the_member_event(hs: Homeserver) -> None:
    alice, bob = await user(hs, "alice"), await user(hs, "bob")
    room_id = await room(hs, alice)
    status, _ = await hs.request("POST", f"/join/{room_id}", {"foo": "bar"}, token=bob)
    assert status == 200
    bob_id = quote(f"@bob:{hs.config.server_name}")
    _, content = await hs.request(
        "GET", f"/rooms/{room_id}/state/m.room.member/{bob_id}", token=alice
    )
    assert content["membership"] == "join" and content["foo"] == "bar"


# -- TestRoomForget ------------------------------------------------------------------------
async def test_forgotten_room_cannot_be_paginated(hs: Homeserver) -> None:
    alice, bob = await user(hs, "alice"), await user(hs, "bob")
    room_id = await room(hs, alice)
    await hs.request("POST", f"/join/{room_id}", {}, token=bob)
    await send(hs, alice, room_id, "hello", "1")
    await hs.request("POST", f"/rooms/{room_id}/leave", {}, token=alice)
    assert (await hs.request("GET", f"/rooms/{room_id}/messages", token=alice))[0] == 200
    await hs.request("POST", f"/rooms/{room_id}/forget", {}, token=alice)
    status, reply = await hs.request("GET", f"/rooms/{room_id}/messages", token=alice)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")


async def test_leave_of_forgotten_room_comes_down_incrementally(hs: Homeserver) -> None:
    alice, bob = await user(hs, "alice"), await user(hs, "bob")
    room_id = await room(hs, alice)
    await hs.request("POST", f"/join/{room_id}", {}, token=bob)
    before = (await sync(hs, alice))["next_batch"]
    await hs.request("POST", f"/rooms/{room_id}/leave", {}, token=alice)
    await hs.request("POST", f"/rooms/{room_id}/forget", {}, token=alice)
    await send(hs, bob, room_id, "hello", "1")
    include_leave = json.dumps({"room": {"include_leave": True}})
    reply = await sync(hs, alice, since=before, filter=include_leave)
    assert room_id in reply["rooms"]["leave"]
    # An initial sync leaves the forgotten room out.
    assert room_id not in (await sync(hs, alice, filter=include_leave))["rooms"].get("leave", {})


# -- TestFetchEventNonWorldReadable, TestFetchMessagesFromNonExistentRoom ---------------
async def test_event_of_room_not_joined_is_not_found(hs: Homeserver) -> None:
    alice, bob = await user(hs, "alice"), await user(hs, "bob")
    room_id = await room(hs, alice, preset="private_chat")
    event_id = await send(hs, alice, room_id, "hello", "1")
    status, reply = await hs.request("GET", f"/rooms/{room_id}/event/{event_id}", token=bob)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")


async def test_messages_of_unknown_room_are_forbidden(hs: Homeserver) -> None:
    alice = await user(hs, "alice")
    room_id = f"!does-not-exist:{hs.config.server_name}"
    status, reply = await hs.request("GET", f"/rooms/{room_id}/messages", token=alice)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")


# -- TestSync, TestMembersLocal: newly joined members and rooms --------------------------
async def test_presence_of_new_member_comes_down_incrementally(hs: Homeserver) -> None:
    alice, bob = await user(hs, "alice"), await user(hs, "bob")
    bob_id = f"@bob:{hs.config.server_name}"
    room_id = await room(hs, alice)
    await hs.request("PUT", f"/presence/{quote(bob_id)}/status", {"presence": "online"}, token=bob)
    since = (await sync(hs, alice))["next_batch"]
    await hs.request("POST", f"/join/{room_id}", {}, token=bob)
    reply = await sync(hs, alice, since=since)
    assert bob_id in [e["sender"] for e in reply["presence"]["events"]]
    # And the joiner gets the presence of the room's members.
    other = await room(hs, alice)
    since = (await sync(hs, bob))["next_batch"]
    await hs.request("POST", f"/join/{other}", {}, token=bob)
    reply = await sync(hs, bob, since=since)
    assert f"@alice:{hs.config.server_name}" in [e["sender"] for e in reply["presence"]["events"]]


async def test_newly_joined_room_is_limited(hs: Homeserver) -> None:
    alice, bob = await user(hs, "alice"), await user(hs, "bob")
    room_id = await room(hs, alice)
    for i in range(3):
        await send(hs, alice, room_id, f"m{i}", str(i))
    since = (await sync(hs, bob))["next_batch"]
    await hs.request("POST", f"/join/{room_id}", {}, token=bob)
    reply = await sync(hs, bob, since=since)
    assert reply["rooms"]["join"][room_id]["timeline"]["limited"] is True


# -- TestSearch ----------------------------------------------------------------------------
async def test_full_search_page_has_next_batch(hs: Homeserver) -> None:
    alice = await user(hs, "alice")
    room_id = await room(hs, alice)
    for i in range(4):
        await send(hs, alice, room_id, f"Message number {i}", str(i))
    criteria = {
        "search_term": "Message",
        "order_by": "recent",
        "filter": {"limit": 2, "rooms": [room_id]},
    }
    body = {"search_categories": {"room_events": criteria}}
    pages = []
    params: dict[str, str] | None = None
    for _ in range(3):
        status, reply = await hs.request("POST", "/search", body, token=alice, params=params)
        assert status == 200, reply
        page = reply["search_categories"]["room_events"]
        pages.append(page)
        params = {"next_batch": page.get("next_batch", "")}
    assert [len(p["results"]) for p in pages] == [2, 2, 0]
    assert "next_batch" in pages[1] and "next_batch" not in pages[2]


# -- TestInviteFromIgnoredUsersDoesNotAppearInSync ---------------------------------------
async def test_invites_from_ignored_users_stay_out_of_sync(hs: Homeserver) -> None:
    alice, bob, chris = await user(hs, "alice"), await user(hs, "bob"), await user(hs, "chris")
    name = hs.config.server_name
    await hs.request(
        "PUT",
        f"/user/{quote('@alice:' + name)}/account_data/m.ignored_user_list",
        {"ignored_users": {f"@bob:{name}": {}}},
        token=alice,
    )
    since = (await sync(hs, alice))["next_batch"]
    bobs = await room(hs, bob, preset="private_chat", invite=[f"@alice:{name}"])
    chriss = await room(hs, chris, preset="private_chat", invite=[f"@alice:{name}"])
    for reply in (await sync(hs, alice, since=since), await sync(hs, alice)):
        assert chriss in reply["rooms"]["invite"]
        assert bobs not in reply["rooms"]["invite"]


# -- TestMembershipOnEvents (MSC4115) ----------------------------------------------------
async def test_events_carry_the_viewers_membership(hs: Homeserver) -> None:
    alice, bob = await user(hs, "alice"), await user(hs, "bob")
    room_id = await room(hs, alice)
    before = await send(hs, alice, room_id, "prejoin", "1")
    await hs.request("POST", f"/join/{room_id}", {}, token=bob)
    after = await send(hs, alice, room_id, "postjoin", "2")
    events = (await sync(hs, bob))["rooms"]["join"][room_id]["timeline"]["events"]
    seen = {e["event_id"]: e["unsigned"]["membership"] for e in events}
    assert seen[before] == "leave" and seen[after] == "join"
    own_join = [
        e for e in events if e["type"] == "m.room.member" and e["state_key"].startswith("@bob")
    ]
    assert own_join[0]["unsigned"]["membership"] == "join"
    _, page = await hs.request("GET", f"/rooms/{room_id}/messages", token=bob)
    assert {e["event_id"]: e["unsigned"]["membership"] for e in page["chunk"]}[after] == "join"


# -- TestRoomDeleteAlias: "Can delete canonical alias" -----------------------------------
async def test_deleting_the_canonical_alias_clears_it(hs: Homeserver) -> None:
    alice = await user(hs, "alice")
    room_id = await room(hs, alice)
    alias = f"#random_alias:{hs.config.server_name}"
    other = f"#other_alias:{hs.config.server_name}"
    for a in (alias, other):
        status, _ = await hs.request(
            "PUT", f"/directory/room/{quote(a)}", {"room_id": room_id}, token=alice
        )
        assert status == 200
    await hs.request(
        "PUT",
        f"/rooms/{room_id}/state/m.room.canonical_alias",
        {"alias": alias, "alt_aliases": [alias, other]},
        token=alice,
    )
    assert (await hs.request("DELETE", f"/directory/room/{quote(alias)}", token=alice))[0] == 200
    _, content = await hs.request(
        "GET", f"/rooms/{room_id}/state/m.room.canonical_alias", token=alice
    )
    assert content == {"alt_aliases": [other]}
    assert (await hs.request("DELETE", f"/directory/room/{quote(other)}", token=alice))[0] == 200
    _, content = await hs.request(
        "GET", f"/rooms/{room_id}/state/m.room.canonical_alias", token=alice
    )
    assert content == {}


# -- TestArchivedRoomsHistory: "timeline is empty" ---------------------------------------
async def test_left_room_without_timeline_has_the_state_at_the_leave(hs: Homeserver) -> None:
    alice, bob = await user(hs, "alice"), await user(hs, "bob")
    room_id = await room(hs, alice)
    await hs.request("POST", f"/join/{room_id}", {}, token=bob)
    state = f"/rooms/{room_id}/state/a.made.up.test.state/"
    await hs.request("PUT", state, {"my_key": "before"}, token=alice)
    await hs.request("POST", f"/rooms/{room_id}/leave", {}, token=bob)
    await hs.request("PUT", state, {"my_key": "after"}, token=alice)
    empty = json.dumps({"room": {"timeline": {"limit": 0}, "include_leave": True}})
    left = (await sync(hs, bob, filter=empty))["rooms"]["leave"][room_id]
    assert left["timeline"]["events"] == []
    by_type = {(e["type"], e["state_key"]): e["content"] for e in left["state"]["events"]}
    assert by_type[("a.made.up.test.state", "")] == {"my_key": "before"}
    assert by_type[("m.room.member", f"@bob:{hs.config.server_name}")]["membership"] == "leave"


# -- TestRoomSpecificUsernameAtJoin/Change: "Bob can find Alice by mxid" -----------------
async def test_user_directory_does_not_find_the_searcher_in_private_rooms(
    hs: Homeserver,
) -> None:
    alice, bob = await user(hs, "alice"), await user(hs, "bob")
    name = hs.config.server_name
    await room(hs, alice, visibility="public")
    await room(hs, bob, preset="private_chat", invite=[f"@alice:{name}"])
    status, reply = await hs.request(
        "POST", "/user_directory/search", {"search_term": "@"}, token=bob
    )
    assert status == 200
    assert [r["user_id"] for r in reply["results"]] == [f"@alice:{name}"]


async def test_user_directory_shows_local_users_global_name(hs: Homeserver) -> None:
    alice, bob = await user(hs, "alice"), await user(hs, "bob")
    name = hs.config.server_name
    alice_id = quote(f"@alice:{name}")
    await hs.request(
        "PUT", f"/profile/{alice_id}/displayname", {"displayname": "Public"}, token=alice
    )
    private = await room(hs, bob, preset="private_chat", invite=[f"@alice:{name}"])
    await hs.request("POST", f"/join/{private}", {}, token=alice)
    await hs.request(
        "PUT",
        f"/rooms/{private}/state/m.room.member/{alice_id}",
        {"membership": "join", "displayname": "Secret"},
        token=alice,
    )
    for term in ("alice", "Public"):
        _, reply = await hs.request(
            "POST", "/user_directory/search", {"search_term": term}, token=bob
        )
        assert [(r["user_id"], r.get("display_name")) for r in reply["results"]] == [
            (f"@alice:{name}", "Public")
        ], term
    _, reply = await hs.request(
        "POST", "/user_directory/search", {"search_term": "Secret"}, token=bob
    )
    assert reply["results"] == []


# -- TestPushRuleRoomUpgrade -----------------------------------------------------------
async def test_room_push_rules_follow_an_upgrade(hs: Homeserver) -> None:
    alice, alice2 = await user(hs, "alice"), await user(hs, "alice2")
    room_id = await room(hs, alice, room_version="10")
    await hs.request("POST", f"/join/{room_id}", {}, token=alice2)
    for token in (alice, alice2):
        status, _ = await hs.request(
            "PUT", f"/pushrules/global/room/{room_id}", {"actions": ["dont_notify"]}, token=token
        )
        assert status == 200
    status, reply = await hs.request(
        "POST", f"/rooms/{room_id}/upgrade", {"new_version": "11"}, token=alice
    )
    assert status == 200, reply
    new_room = reply["replacement_room"]
    await hs.request("POST", f"/join/{new_room}", {}, token=alice2)
    for token in (alice, alice2):
        _, rules = await hs.request("GET", "/pushrules/", token=token)
        by_id = {r["rule_id"]: r["actions"] for r in rules["global"]["room"]}
        assert by_id[room_id] == by_id[new_room] == ["dont_notify"]


async def test_initial_sync_carries_bans_and_kicks_but_not_own_leaves(hs: Homeserver) -> None:
    """TestUnbanViaInvite: a ban that lands before the user's first /sync must still
    show in it (Synapse: rooms the user was banned or kicked from always come down;
    their own leaves only with include_leave)."""
    owner = await user(hs, "owner")
    alice = await user(hs, "alice")
    alice_id = "@alice:test.example"
    banned, kicked, left = [await room(hs, owner) for _ in range(3)]
    for room_id in (banned, kicked, left):
        status, _ = await hs.request("POST", f"/rooms/{room_id}/join", {}, token=alice)
        assert status == 200
    for action, room_id in (("ban", banned), ("kick", kicked)):
        body = {"user_id": alice_id}
        status, _ = await hs.request("POST", f"/rooms/{room_id}/{action}", body, token=owner)
        assert status == 200
    status, _ = await hs.request("POST", f"/rooms/{left}/leave", {}, token=alice)
    assert status == 200

    status, synced = await hs.request("GET", "/sync", token=alice)
    assert status == 200
    leave = synced["rooms"].get("leave", {})
    assert set(leave) == {banned, kicked}
    memberships = {
        room_id: [
            e["content"]["membership"]
            for e in leave[room_id]["state"]["events"] + leave[room_id]["timeline"]["events"]
            if e["type"] == "m.room.member" and e["state_key"] == alice_id
        ][-1]
        for room_id in leave
    }
    assert memberships == {banned: "ban", kicked: "leave"}
    # With include_leave the user's own leave comes too.
    flt = json.dumps({"room": {"include_leave": True}})
    status, synced = await hs.request("GET", f"/sync?filter={quote(flt)}", token=alice)
    assert set(synced["rooms"]["leave"]) == {banned, kicked, left}
