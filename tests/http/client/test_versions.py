"""/versions lists what works: each claimed version and each unstable flag is used here.

docs/development/versions.md explains which spec versions are claimed and why; the
tests below exercise, over HTTP, the feature behind every flag in ``unstable_features``
so that a flag cannot stay listed once its feature breaks.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from conduwuit.api.client.versions import SUPPORTED_VERSIONS, UNSTABLE_FEATURES
from tests.http.rooms.conftest import Users
from tests.kit.homeserver import Homeserver, StartHomeserver

V1 = "/_matrix/client/v1"
UNSTABLE = "/_matrix/client/unstable"


@pytest.fixture
def users(hs: Homeserver) -> Users:
    return Users(hs)


async def test_versions_lists_v1_1_to_v1_19(hs: Homeserver) -> None:
    status, reply = await hs.request("GET", "/_matrix/client/versions")
    assert status == 200
    assert reply["versions"] == [f"v1.{minor}" for minor in range(1, 20)]
    assert reply["unstable_features"] == UNSTABLE_FEATURES
    assert all(value is True for value in UNSTABLE_FEATURES.values())


async def test_versions_answers_the_same_with_a_token(hs: Homeserver) -> None:
    token = (await hs.register("alice"))["access_token"]
    anonymous = await hs.request("GET", "/_matrix/client/versions")
    assert await hs.request("GET", "/_matrix/client/versions", token=token) == anonymous


def test_no_version_past_the_table_in_the_docs() -> None:
    # v1.19 is the spec this server follows (docs/development/versions.md).
    assert "v1.20" not in SUPPORTED_VERSIONS and "r0.6.1" not in SUPPORTED_VERSIONS


async def test_v1_10_to_v1_15_requirements(start: StartHomeserver) -> None:
    """What v1.10 to v1.15 added for a server, each used once (erasure has its own
    tests in tests/http/rooms/test_erasure.py, recurse the MSC3981 test below)."""
    hs = await start(well_known__support_mxid="@admin:test.example")
    users = Users(hs)
    alice, bob = await users.add("alice"), await users.add("bob")
    # v1.10: /versions may take auth; /.well-known/matrix/support.
    assert (await users.call(alice, "GET", "/_matrix/client/versions"))[0] == 200
    async with hs.client.get("/.well-known/matrix/support") as response:
        assert response.status == 200
        support = await response.json()
    assert support["contacts"][0]["matrix_id"] == "@admin:test.example"
    # v1.10: erase on deactivation is a boolean; anything else is refused.
    status, reply = await users.call(alice, "POST", "/account/deactivate", {"erase": "yes"})
    assert (status, reply["errcode"]) == (400, "M_BAD_JSON")
    # v1.11: unsigned.membership on events.
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    await _send(users, alice, room, "1", {"msgtype": "m.text", "body": "hi"})
    chunk = (await users.ok(alice, "GET", f"/rooms/{room}/messages", dir="b"))["chunk"]
    assert chunk[0]["unsigned"]["membership"] == "join"  # the message
    assert chunk[-1]["unsigned"]["membership"] == "leave"  # the create event, before joining
    # v1.11: no UIA for a first cross-signing key upload.
    master = {"user_id": bob, "usage": ["master"], "keys": {"ed25519:AAAA": "AAAA"}}
    status, _ = await users.call(bob, "POST", "/keys/device_signing/upload", {"master_key": master})
    assert status == 200
    # v1.12: via on /join and /knock.
    await users.ok(bob, "POST", f"/join/{room}", {}, via="test.example")
    knock_room = (
        await users.ok(alice, "POST", "/createRoom", {"initial_state": [], "room_version": "10"})
    )["room_id"]
    await users.ok(
        alice,
        "PUT",
        f"/rooms/{knock_room}/state/m.room.join_rules",
        {"join_rule": "knock"},
    )
    await users.ok(bob, "POST", f"/knock/{knock_room}", {}, via="test.example")
    # v1.13 and v1.14: reporting a room and a user.
    await users.ok(bob, "POST", f"/rooms/{room}/report", {"reason": "spam"})
    await users.ok(bob, "POST", f"/users/{alice}/report", {"reason": "spam"})
    # v1.15: room summaries; no OAuth 2.0, so /auth_metadata is unrecognised.
    summary = await users.ok(bob, "GET", f"{V1}/room_summary/{room}")
    assert summary["room_id"] == room and summary["membership"] == "join"
    status, reply = await hs.request("GET", f"{V1}/auth_metadata")
    assert (status, reply["errcode"]) == (404, "M_UNRECOGNIZED")


async def test_v1_16_requirements(hs: Homeserver, users: Users) -> None:
    """v1.16: use_state_after (its own tests in test_sync_state_after.py), room
    version 12, custom profile fields, format=event, m.room.create in invite state."""
    alice, bob = await users.add("alice"), await users.add("bob")
    # Room version 12: the room ID is the create event's hash, the create event has no
    # room_id (clients still get one), and the creator's power is not in power levels.
    room = (await users.ok(alice, "POST", "/createRoom", {"room_version": "12", "invite": [bob]}))[
        "room_id"
    ]
    assert ":" not in room
    create = await users.ok(alice, "GET", f"/rooms/{room}/state/m.room.create/", format="event")
    assert create["event_id"] == "$" + room[1:] and create["room_id"] == room
    assert create["content"]["room_version"] == "12"
    levels = await users.ok(alice, "GET", f"/rooms/{room}/state/m.room.power_levels/")
    assert alice not in levels.get("users", {})
    await users.ok(alice, "PUT", f"/rooms/{room}/state/m.room.topic/", {"topic": "v12"})
    # The invitee's stripped state has the create event.
    invite = (await users.ok(bob, "GET", "/sync"))["rooms"]["invite"][room]
    assert "m.room.create" in {e["type"] for e in invite["invite_state"]["events"]}
    await users.ok(bob, "POST", f"/join/{room}", {})
    assert (await users.call(bob, "PUT", f"/rooms/{room}/state/m.room.topic/", {}))[0] == 403
    # use_state_after.
    joined = (await users.ok(bob, "GET", "/sync", use_state_after="true"))["rooms"]["join"][room]
    assert "state" not in joined
    assert ("m.room.topic", "") in {
        (e["type"], e["state_key"]) for e in joined["state_after"]["events"]
    }
    # Custom profile fields and their capability.
    caps = (await users.ok(alice, "GET", "/capabilities"))["capabilities"]
    assert caps["m.profile_fields"]["enabled"] is True
    await users.ok(
        alice, "PUT", f"/profile/{alice}/org.example.pronouns", {"org.example.pronouns": "she"}
    )
    profile = await users.ok(bob, "GET", f"/profile/{alice}/org.example.pronouns")
    assert profile == {"org.example.pronouns": "she"}


async def test_v1_17_to_v1_19_requirements(hs: Homeserver, users: Users) -> None:
    """v1.17 to v1.19, each used once. The application-service parts of v1.17 (device
    masquerading with ``device_id``, devices made and deleted without UIA) are
    ``test_masquerading_as_namespace_users`` and
    ``test_appservices_manage_devices_without_uia`` in test_appservice_auth.py; invite
    blocking (v1.18) has tests/http/rooms/test_invite_permission.py; account locking
    and suspension (v1.12, v1.13) and their admin endpoints (v1.18) have
    test_account_locking.py, test_account_suspension.py and
    tests/http/admin/test_account_moderation.py."""
    alice, bob = await users.add("alice"), await users.add("bob")
    room = await _room_with(users, alice, bob)
    # v1.17: the legacy mention rules are gone from the defaults (MSC4210).
    rules = (await users.ok(alice, "GET", "/pushrules/"))["global"]
    ids = {rule["rule_id"] for kind in rules.values() for rule in kind}
    assert ".m.rule.is_user_mention" in ids
    assert not ids & {".m.rule.contains_display_name", ".m.rule.contains_user_name"}
    assert ".m.rule.roomnotif" not in ids
    # v1.18: m.room.redaction through /send (MSC4169), redacts in the content.
    message = await _send(users, bob, room, "m1", {"msgtype": "m.text", "body": "oops"})
    path = f"/rooms/{room}/send/m.room.redaction/r1"
    await users.ok(bob, "PUT", path, {"redacts": message})
    redacted = await users.ok(alice, "GET", f"/rooms/{room}/event/{message}")
    assert redacted["content"] == {}
    # v1.18: reporting an event takes no score any more (MSC4277).
    report = f"/rooms/{room}/report/{message}"
    assert (await users.call(alice, "POST", report, {"reason": "spam"}))[0] == 200
    # v1.19: unsigned.replaces_state names the state event a state event replaced.
    first = await users.ok(alice, "PUT", f"/rooms/{room}/state/m.room.topic/", {"topic": "a"})
    second = await users.ok(alice, "PUT", f"/rooms/{room}/state/m.room.topic/", {"topic": "b"})
    event = await users.ok(alice, "GET", f"/rooms/{room}/event/{second['event_id']}")
    assert event["unsigned"]["replaces_state"] == first["event_id"]


async def _room_with(users: Users, owner: str, guest: str) -> str:
    room = (await users.ok(owner, "POST", "/createRoom", {"invite": [guest]}))["room_id"]
    await users.ok(guest, "POST", f"/rooms/{room}/join", {})
    return str(room)


async def _send(users: Users, user: str, room: str, txn: str, content: dict[str, Any]) -> str:
    path = f"/rooms/{room}/send/m.room.message/{txn}"
    return str((await users.ok(user, "PUT", path, content))["event_id"])


async def _sync_room(users: Users, user: str, room: str, **params: str) -> dict[str, Any]:
    reply = await users.ok(user, "GET", "/sync", **params)
    joined: dict[str, Any] = reply["rooms"]["join"][room]
    return joined


async def test_msc2285_private_receipts_clear_counts_and_stay_private(
    hs: Homeserver, users: Users
) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    room = await _room_with(users, alice, bob)
    await _send(users, alice, room, "1", {"msgtype": "m.text", "body": "one"})
    last = await _send(users, alice, room, "2", {"msgtype": "m.text", "body": "two"})
    before = await _sync_room(users, bob, room)
    assert before["unread_notifications"]["notification_count"] == 2
    await users.ok(bob, "POST", f"/rooms/{room}/receipt/m.read.private/{last}", {})
    after = await _sync_room(users, bob, room)
    assert after["unread_notifications"]["notification_count"] == 0
    # Alice never learns that bob read it: no receipt of his reaches her.
    ephemeral = (await _sync_room(users, alice, room)).get("ephemeral", {}).get("events", [])
    assert not [e for e in ephemeral if e["type"] == "m.receipt" and bob in json.dumps(e)]
    # /read_markers takes it too (spec v1.4: m.fully_read is optional there).
    await users.ok(bob, "POST", f"/rooms/{room}/read_markers", {"m.read.private": last})


async def test_msc3827_public_rooms_filter_by_room_type(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    public = {"visibility": "public", "preset": "public_chat"}
    space = (
        await users.ok(
            alice, "POST", "/createRoom", {**public, "creation_content": {"type": "m.space"}}
        )
    )["room_id"]
    plain = (await users.ok(alice, "POST", "/createRoom", public))["room_id"]

    async def listed(room_types: Any) -> list[str]:
        body = {"filter": {"room_types": room_types}}
        reply = await users.ok(alice, "POST", "/publicRooms", body)
        return sorted(chunk["room_id"] for chunk in reply["chunk"])

    assert await listed(["m.space"]) == [space]
    assert await listed([None]) == [plain]
    assert await listed([None, "m.space"]) == sorted([space, plain])
    assert await listed([]) == []
    assert await listed(None) == sorted([space, plain])
    reply = await users.ok(alice, "POST", "/publicRooms", {})
    assert {c["room_id"]: c.get("room_type") for c in reply["chunk"]} == {
        space: "m.space",
        plain: None,
    }
    status, reply = await users.call(
        alice, "POST", "/publicRooms", {"filter": {"room_types": "m.space"}}
    )
    assert (status, reply["errcode"]) == (400, "M_BAD_JSON")


async def test_msc3440_threads_are_bundled_and_listed(hs: Homeserver, users: Users) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    room = await _room_with(users, alice, bob)
    root = await _send(users, alice, room, "r", {"msgtype": "m.text", "body": "root"})
    relates = {"rel_type": "m.thread", "event_id": root}
    reply = await _send(
        users, bob, room, "t", {"msgtype": "m.text", "body": "in", "m.relates_to": relates}
    )
    event = await users.ok(alice, "GET", f"/rooms/{room}/event/{root}")
    thread = event["unsigned"]["m.relations"]["m.thread"]
    assert thread["latest_event"]["event_id"] == reply
    assert thread["count"] == 1
    # Alice sent the root, which counts as taking part (as in Synapse).
    assert thread["current_user_participated"] is True
    threads = await users.ok(alice, "GET", f"{V1}/rooms/{room}/threads")
    assert [t["event_id"] for t in threads["chunk"]] == [root]
    # A threaded receipt (spec v1.4) names the thread root.
    await users.ok(bob, "POST", f"/rooms/{room}/receipt/m.read/{reply}", {"thread_id": root})


async def test_msc3771_msc3773_threaded_receipts_and_thread_counts(
    hs: Homeserver, users: Users
) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    room = await _room_with(users, alice, bob)
    root = await _send(users, alice, room, "r", {"msgtype": "m.text", "body": "root"})
    relates = {"rel_type": "m.thread", "event_id": root}
    in_thread = {"msgtype": "m.text", "body": "in", "m.relates_to": relates}
    reply = await _send(users, alice, room, "t", in_thread)
    threads = json.dumps({"room": {"timeline": {"unread_thread_notifications": True}}})
    joined = await _sync_room(users, bob, room, filter=threads)
    assert joined["unread_notifications"]["notification_count"] == 1  # the root
    assert joined["unread_thread_notifications"][root]["notification_count"] == 1
    # A receipt in the thread clears the thread only.
    await users.ok(bob, "POST", f"/rooms/{room}/receipt/m.read/{reply}", {"thread_id": root})
    joined = await _sync_room(users, bob, room, filter=threads)
    assert "unread_thread_notifications" not in joined
    assert joined["unread_notifications"]["notification_count"] == 1


async def test_msc3874_messages_filtered_by_relation_type(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {}))["room_id"]
    root = await _send(users, alice, room, "r", {"msgtype": "m.text", "body": "root"})
    relates = {"rel_type": "m.thread", "event_id": root}
    reply = await _send(
        users, alice, room, "t", {"msgtype": "m.text", "body": "in", "m.relates_to": relates}
    )
    only_threads = json.dumps({"org.matrix.msc3874.rel_types": ["m.thread"]})
    page = await users.ok(alice, "GET", f"/rooms/{room}/messages", filter=only_threads)
    assert [e["event_id"] for e in page["chunk"]] == [reply]


async def test_msc3391_account_data_deletion(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    await users.ok(alice, "PUT", f"/user/{alice}/account_data/org.example", {"a": 1})
    await users.ok(
        alice, "DELETE", f"{UNSTABLE}/org.matrix.msc3391/user/{alice}/account_data/org.example"
    )
    status, _ = await users.call(alice, "GET", f"/user/{alice}/account_data/org.example")
    assert status == 404


async def test_msc3981_relations_recurse(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {}))["room_id"]
    root = await _send(users, alice, room, "r", {"msgtype": "m.text", "body": "root"})
    child = await _send(
        users,
        alice,
        room,
        "c",
        {
            "msgtype": "m.text",
            "body": "c",
            "m.relates_to": {"rel_type": "m.thread", "event_id": root},
        },
    )
    grandchild = await _send(
        users,
        alice,
        room,
        "g",
        {"body": "g", "m.relates_to": {"rel_type": "m.reference", "event_id": child}},
    )
    flat = await users.ok(alice, "GET", f"{V1}/rooms/{room}/relations/{root}")
    assert [e["event_id"] for e in flat["chunk"]] == [child]
    deep = await users.ok(alice, "GET", f"{V1}/rooms/{room}/relations/{root}", recurse="true")
    assert sorted(e["event_id"] for e in deep["chunk"]) == sorted([child, grandchild])
    assert deep["recursion_depth"] >= 2


async def test_msc3266_room_summary_stable_and_unstable(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {"name": "Tea"}))["room_id"]
    stable = await users.ok(alice, "GET", f"{V1}/room_summary/{room}")
    assert stable["room_id"] == room and stable["name"] == "Tea"
    assert stable["membership"] == "join"
    unstable = await users.ok(alice, "GET", f"{UNSTABLE}/im.nheko.summary/summary/{room}")
    assert unstable == stable


async def test_msc2666_mutual_rooms(hs: Homeserver, users: Users) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    room = await _room_with(users, alice, bob)
    await users.ok(alice, "POST", "/createRoom", {})
    reply = await users.ok(
        alice, "GET", f"{UNSTABLE}/uk.half-shot.msc2666/user/mutual_rooms", user_id=bob
    )
    assert reply["joined"] == [room]


async def test_msc4133_custom_profile_fields(hs: Homeserver, users: Users) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    await _room_with(users, alice, bob)
    await users.ok(alice, "PUT", f"/profile/{alice}/m.tz", {"m.tz": "Europe/Paris"})
    assert await users.ok(bob, "GET", f"/profile/{alice}/m.tz") == {"m.tz": "Europe/Paris"}
    assert (await users.ok(bob, "GET", f"/profile/{alice}"))["m.tz"] == "Europe/Paris"
    await users.ok(alice, "DELETE", f"/profile/{alice}/m.tz")
    status, _ = await users.call(bob, "GET", f"/profile/{alice}/m.tz")
    assert status == 404
    capabilities = await users.ok(alice, "GET", "/capabilities")
    assert capabilities["capabilities"]["m.profile_fields"]["enabled"] is True


async def test_msc3916_authenticated_media(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    token = hs.tokens[alice]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}
    async with hs.client.post("/_matrix/media/v3/upload", data=b"hi", headers=headers) as r:
        media_id = (await r.json())["content_uri"].removeprefix("mxc://test.example/")
    path = f"{V1}/media/download/test.example/{media_id}"
    async with hs.client.get(path, headers=headers) as r:
        assert r.status == 200 and await r.read() == b"hi"
    async with hs.client.get(path) as r:
        assert r.status == 401
    config = await users.ok(alice, "GET", f"{V1}/media/config")
    assert config["m.upload.size"] == hs.config.max_request_size


async def test_msc4140_delayed_events(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {}))["room_id"]
    path = f"/rooms/{room}/state/m.room.topic/"
    delay = {"org.matrix.msc4140.delay": "1000"}
    delay_id = (await users.ok(alice, "PUT", path, {"topic": "later"}, **delay))["delay_id"]
    listed = await users.ok(alice, "GET", f"{UNSTABLE}/org.matrix.msc4140/delayed_events")
    assert [e["delay_id"] for e in listed["delayed_events"]] == [delay_id]
    await users.ok(alice, "POST", f"{UNSTABLE}/org.matrix.msc4140/delayed_events/{delay_id}/send")
    assert await users.ok(alice, "GET", path) == {"topic": "later"}


async def test_msc4186_simplified_sliding_sync(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {"name": "listed"}))["room_id"]
    body = {
        "lists": {"all": {"ranges": [[0, 9]], "required_state": [], "timeline_limit": 1}},
        "extensions": {"e2ee": {"enabled": True}, "to_device": {"enabled": True}},
    }
    reply = await users.ok(alice, "POST", f"{UNSTABLE}/org.matrix.simplified_msc3575/sync", body)
    assert reply["rooms"][room]["name"] == "listed"
    assert reply["lists"]["all"]["count"] >= 1
    assert {"e2ee", "to_device"} <= set(reply["extensions"])


async def test_msc4155_and_msc4380_invite_permission(hs: Homeserver, users: Users) -> None:
    """tests/http/rooms/test_invite_permission.py has the rest."""
    alice, bob = await users.add("alice"), await users.add("bob")
    room = (await users.ok(bob, "POST", "/createRoom", {}))["room_id"]
    for event_type, content in (
        ("org.matrix.msc4155.invite_permission_config", {"blocked_users": [bob]}),
        ("m.invite_permission_config", {"default_action": "block"}),
    ):
        await users.ok(alice, "PUT", f"/user/{alice}/account_data/{event_type}", content)
        status, reply = await users.call(bob, "POST", f"/rooms/{room}/invite", {"user_id": alice})
        assert (status, reply["errcode"]) == (403, "M_INVITE_BLOCKED")
        await users.ok(alice, "PUT", f"/user/{alice}/account_data/{event_type}", {})
