"""Synapse's shadow-ban admin API: a shadow-banned user's sends, state, redactions,
invites, room-creation invites and typing answer as if done, and nothing reaches
anyone; joins go through; lifting the ban makes sends real again."""

from __future__ import annotations

import pytest

from tests.http.admin.test_users import ok
from tests.kit.homeserver import Homeserver, StartHomeserver

V1 = "/_synapse/admin/v1"
V2 = "/_synapse/admin/v2"
ALICE = "@alice:test.example"
CAROL = "@carol:test.example"
BAN = f"{V1}/users/{ALICE}/shadow_ban"
DELAYED = "/_matrix/client/unstable/org.matrix.msc4140/delayed_events"


async def banned_server(start: StartHomeserver) -> tuple[Homeserver, str, str, str, str]:
    """admin, alice (owner of a room bob joined, then shadow-banned), bob; their
    tokens and the room."""
    hs = await start()
    admin = (await hs.register("admin"))["access_token"]
    alice = (await hs.register("alice"))["access_token"]
    bob = (await hs.register("bob"))["access_token"]
    await hs.register("carol")
    room = (await ok(hs, "POST", "/createRoom", alice, {"preset": "public_chat"}))["room_id"]
    await ok(hs, "POST", f"/join/{room}", bob, {})
    assert await ok(hs, "POST", BAN, admin, {}) == {}
    return hs, admin, alice, bob, room


async def stored(hs: Homeserver, token: str, room: str, event_id: str) -> bool:
    status, _ = await hs.request("GET", f"/rooms/{room}/event/{event_id}", token=token)
    return status == 200


@pytest.mark.parametrize("method", ["POST", "DELETE"])
async def test_admins_only_and_bad_targets(start: StartHomeserver, method: str) -> None:
    hs = await start()
    admin = (await hs.register("admin"))["access_token"]
    alice = (await hs.register("alice"))["access_token"]
    status, reply = await hs.request(method, BAN, {})
    assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")
    status, reply = await hs.request(method, BAN, {}, token=alice)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    for target, expected in (
        ("@nobody:test.example", (404, "M_NOT_FOUND")),
        ("@alice:elsewhere.example", (400, "M_INVALID_PARAM")),
        ("not-a-user", (400, "M_INVALID_PARAM")),
        ("@conduit:test.example", (400, "M_INVALID_PARAM")),
    ):
        status, reply = await hs.request(method, f"{V1}/users/{target}/shadow_ban", {}, token=admin)
        assert (status, reply["errcode"]) == expected, target
    assert not hs.services.users.shadow_bans.is_banned(ALICE)


async def test_flag_in_user_query_and_listing(start: StartHomeserver) -> None:
    hs, admin, *_ = await banned_server(start)
    assert (await ok(hs, "GET", f"{V2}/users/{ALICE}", admin))["shadow_banned"] == 1
    listing = await ok(hs, "GET", f"{V2}/users", admin, order_by="shadow_banned", dir="b")
    assert (listing["users"][0]["name"], listing["users"][0]["shadow_banned"]) == (ALICE, 1)
    assert await ok(hs, "DELETE", BAN, admin) == {}
    assert (await ok(hs, "GET", f"{V2}/users/{ALICE}", admin))["shadow_banned"] == 0


async def test_sends_state_and_redactions_are_faked(start: StartHomeserver) -> None:
    hs, admin, alice, bob, room = await banned_server(start)
    message = {"msgtype": "m.text", "body": "spam"}
    sent = await ok(hs, "PUT", f"/rooms/{room}/send/m.room.message/t1", alice, message)
    assert sent["event_id"].startswith("$") and len(sent["event_id"]) == 44
    assert not await stored(hs, bob, room, sent["event_id"])
    state = await ok(hs, "PUT", f"/rooms/{room}/state/m.room.topic", alice, {"topic": "spam"})
    assert not await stored(hs, bob, room, state["event_id"])
    status, _ = await hs.request("GET", f"/rooms/{room}/state/m.room.topic", token=bob)
    assert status == 404
    # bob's own message: alice's redaction of it is faked too.
    real = await ok(hs, "PUT", f"/rooms/{room}/send/m.room.message/b1", bob, message)
    redaction = await ok(hs, "PUT", f"/rooms/{room}/redact/{real['event_id']}/r1", alice, {})
    assert not await stored(hs, bob, room, redaction["event_id"])
    event = await ok(hs, "GET", f"/rooms/{room}/event/{real['event_id']}", bob)
    assert event["content"] == message
    # Bad input is still refused, as for anyone.
    status, reply = await hs.request(
        "PUT", f"/rooms/{room}/send/m.room.message/t2", [1], token=alice
    )
    assert status == 400, reply

    # Delayed events (MSC4140) are not scheduled: the delay ID names nothing.
    delay = {"org.matrix.msc4140.delay": "60000"}
    for path in (f"/rooms/{room}/send/m.room.message/d1", f"/rooms/{room}/state/m.room.topic"):
        status, reply = await hs.request("PUT", path, message, token=alice, params=delay)
        assert status == 200 and reply["delay_id"], reply
    listed = await ok(hs, "GET", DELAYED, alice)
    assert listed["delayed_events"] == []
    status, reply = await hs.request("POST", f"{DELAYED}/{reply['delay_id']}/send", {}, token=alice)
    assert status == 404, reply

    # Lifted: the next send is real.
    await ok(hs, "DELETE", BAN, admin)
    sent = await ok(hs, "PUT", f"/rooms/{room}/send/m.room.message/t3", alice, message)
    assert await stored(hs, bob, room, sent["event_id"])


async def test_invites_typing_and_room_creation(start: StartHomeserver) -> None:
    hs, _, alice, bob, room = await banned_server(start)
    assert await ok(hs, "POST", f"/rooms/{room}/invite", alice, {"user_id": CAROL}) == {}
    invite = {"membership": "invite"}
    faked = await ok(hs, "PUT", f"/rooms/{room}/state/m.room.member/{CAROL}", alice, invite)
    assert not await stored(hs, bob, room, faked["event_id"])
    status, _ = await hs.request("GET", f"/rooms/{room}/state/m.room.member/{CAROL}", token=bob)
    assert status == 404

    typing = {"typing": True, "timeout": 30000}
    assert await ok(hs, "PUT", f"/rooms/{room}/typing/{ALICE}", alice, typing) == {}
    assert ALICE not in hs.services.rooms.typing.typing_users(room)

    # The room is made; its invites are dropped. A bad invitee is still refused.
    created = await ok(hs, "POST", "/createRoom", alice, {"invite": [CAROL]})
    status, _ = await hs.request(
        "GET", f"/rooms/{created['room_id']}/state/m.room.member/{CAROL}", token=alice
    )
    assert status == 404
    status, reply = await hs.request("POST", "/createRoom", {"invite": ["carol"]}, token=alice)
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")

    # A profile change is alice's own, and stays out of the rooms' member events.
    await ok(hs, "PUT", f"/profile/{ALICE}/displayname", alice, {"displayname": "Spam"})
    assert (await ok(hs, "GET", f"/profile/{ALICE}", bob))["displayname"] == "Spam"
    member = await ok(hs, "GET", f"/rooms/{room}/state/m.room.member/{ALICE}", bob)
    assert member["displayname"] == "alice"

    # Joining is not faked: alice's own membership goes through.
    other = (await ok(hs, "POST", "/createRoom", bob, {"preset": "public_chat"}))["room_id"]
    await ok(hs, "POST", f"/join/{other}", alice, {})
    assert hs.services.rooms.storage.member_index.is_joined(ALICE, other)
