"""A suspended account (client-server API "Account suspension"): what it may not do
answers 403 M_USER_SUSPENDED and changes nothing; reading, syncing, leaving,
rejecting invites, redacting its own events, kicks, receipts, keys, verification,
new sessions, logging out, deleting devices and deactivating go on (the spec's list,
drawn where Synapse draws it, core/suspension.py); lifting it restores everything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.http.admin.test_users import ok
from tests.http.client.test_devices import password_auth
from tests.kit.homeserver import Homeserver, StartHomeserver

ALICE = "@alice:test.example"
BOB = "@bob:test.example"
CAROL = "@carol:test.example"
SUSPEND = f"/_matrix/client/v1/admin/suspend/{ALICE}"
MESSAGE = {"msgtype": "m.text", "body": "hi"}


@dataclass
class World:
    hs: Homeserver
    admin: str
    alice: str
    bob: str
    #: alice's room (she has power 100), bob joined and wrote ``bobs_event`` there.
    mine: str
    bobs_event: str
    alices_event: str
    #: bob's public room with the alias #pub, alice not in it.
    public: str
    #: bob's knockable room.
    knock: str
    #: bob's room alice is invited to.
    invited: str


async def suspended_world(start: StartHomeserver) -> World:
    hs = await start()
    admin = (await hs.register("admin"))["access_token"]
    alice = (await hs.register("alice"))["access_token"]
    bob = (await hs.register("bob"))["access_token"]
    await hs.register("carol")
    mine = (await ok(hs, "POST", "/createRoom", alice, {"preset": "public_chat"}))["room_id"]
    await ok(hs, "POST", f"/join/{mine}", bob, {})
    bobs = await ok(hs, "PUT", f"/rooms/{mine}/send/m.room.message/b1", bob, MESSAGE)
    alices = await ok(hs, "PUT", f"/rooms/{mine}/send/m.room.message/a1", alice, MESSAGE)
    public = await ok(
        hs, "POST", "/createRoom", bob, {"preset": "public_chat", "room_alias_name": "pub"}
    )
    knock = await ok(
        hs,
        "POST",
        "/createRoom",
        bob,
        {
            "room_version": "10",
            "initial_state": [
                {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}
            ],
        },
    )
    invited = (await ok(hs, "POST", "/createRoom", bob, {"invite": [ALICE]}))["room_id"]
    await ok(hs, "PUT", SUSPEND, admin, {"suspended": True})
    return World(
        hs,
        admin,
        alice,
        bob,
        mine,
        bobs["event_id"],
        alices["event_id"],
        public["room_id"],
        knock["room_id"],
        invited,
    )


def membership(w: World, room: str, user: str = ALICE) -> str | None:
    found = w.hs.services.rooms.storage.member_index.get(user, room)
    return found.membership if found is not None else None


def refused_cases(w: World) -> list[tuple[str, str, Any]]:
    room = f"/rooms/{w.mine}"
    return [
        ("PUT", f"{room}/send/m.room.message/s1", MESSAGE),
        ("PUT", f"{room}/send/m.reaction/s2", {}),
        ("PUT", f"{room}/state/m.room.topic", {"topic": "nope"}),
        ("PUT", f"{room}/state/m.room.member/{ALICE}", {"membership": "join", "displayname": "x"}),
        ("PUT", f"{room}/redact/{w.bobs_event}/r1", {}),
        ("PUT", f"{room}/send/m.room.redaction/r2", {"redacts": w.bobs_event}),
        ("POST", f"{room}/invite", {"user_id": CAROL}),
        ("POST", f"{room}/ban", {"user_id": BOB}),
        ("PUT", f"{room}/send/m.room.message/d1?org.matrix.msc4140.delay=60000", MESSAGE),
        ("POST", f"/join/{w.public}", {}),
        ("POST", "/join/%23pub:test.example", {}),
        ("POST", f"/rooms/{w.public}/join", {}),
        ("POST", f"/knock/{w.knock}", {}),
        ("POST", f"/join/{w.invited}", {}),
        ("POST", "/createRoom", {"name": "new"}),
        ("POST", f"/rooms/{w.mine}/upgrade", {"new_version": "11"}),
        ("PUT", f"/profile/{ALICE}/displayname", {"displayname": "New"}),
        ("PUT", f"/profile/{ALICE}/avatar_url", {"avatar_url": "mxc://x/y"}),
        ("PUT", f"/profile/{ALICE}/m.tz", {"m.tz": "Europe/Paris"}),
        ("DELETE", f"/profile/{ALICE}/displayname", None),
    ]


REFUSED = 20


@pytest.mark.parametrize("case", range(REFUSED))
async def test_refused_and_nothing_changes(start: StartHomeserver, case: int) -> None:
    w = await suspended_world(start)
    cases = refused_cases(w)
    assert len(cases) == REFUSED
    method, path, body = cases[case]
    before_rooms = await ok(w.hs, "GET", "/joined_rooms", w.alice)
    before_timeline = await ok(w.hs, "GET", f"/rooms/{w.mine}/messages", w.bob, dir="b")
    profile = w.hs.services.users.profiles.get(ALICE)
    status, reply = await w.hs.request(method, path, body, token=w.alice)
    assert (status, reply.get("errcode")) == (403, "M_USER_SUSPENDED"), reply
    assert await ok(w.hs, "GET", "/joined_rooms", w.alice) == before_rooms
    after = await ok(w.hs, "GET", f"/rooms/{w.mine}/messages", w.bob, dir="b")
    assert after["chunk"] == before_timeline["chunk"]
    assert w.hs.services.users.profiles.get(ALICE) == profile
    assert membership(w, w.invited) == "invite"
    assert membership(w, w.mine, CAROL) is None
    assert membership(w, w.knock) is None
    delayed = "/_matrix/client/unstable/org.matrix.msc4140/delayed_events"
    assert (await ok(w.hs, "GET", delayed, w.alice))["delayed_events"] == []


async def test_reading_and_corrective_actions_allowed(start: StartHomeserver) -> None:
    w = await suspended_world(start)
    hs, alice = w.hs, w.alice
    room = f"/rooms/{w.mine}"
    await ok(hs, "GET", "/sync", alice)
    messages = await ok(hs, "GET", f"{room}/messages", alice, dir="b")
    assert w.bobs_event in [e["event_id"] for e in messages["chunk"]]
    await ok(hs, "GET", f"{room}/event/{w.bobs_event}", alice)
    await ok(hs, "POST", f"{room}/receipt/m.read/{w.bobs_event}", alice, {})
    await ok(hs, "PUT", f"{room}/typing/{ALICE}", alice, {"typing": False})
    await ok(hs, "PUT", f"/user/{ALICE}/account_data/x.y", alice, {"a": 1})
    await ok(hs, "POST", "/keys/upload", alice, {})
    await ok(
        hs,
        "POST",
        "/room_keys/version",
        alice,
        {"algorithm": "m.megolm_backup.v1.curve25519-aes-sha2", "auth_data": {"public_key": "k"}},
    )
    # Their own event may be redacted (both ways), an unknown one too.
    await ok(hs, "PUT", f"{room}/redact/{w.alices_event}/r1", alice, {})
    redacted = await ok(hs, "GET", f"{room}/event/{w.alices_event}", alice)
    assert redacted["content"] == {}
    # A kick is a leave (Synapse allows it).
    await ok(hs, "POST", f"{room}/kick", alice, {"user_id": BOB})
    assert membership(w, w.mine, BOB) == "leave"
    # Rejecting an invite and leaving.
    await ok(hs, "POST", f"/rooms/{w.invited}/leave", alice, {})
    assert membership(w, w.invited) == "leave"
    await ok(hs, "POST", f"{room}/leave", alice, {})
    assert membership(w, w.mine) == "leave"
    # Verification and cross-signing data, other sessions, their devices.
    await ok(hs, "PUT", "/sendToDevice/m.key.verification.request/v1", alice, {"messages": {}})
    await ok(hs, "POST", "/keys/signatures/upload", alice, {})
    second = (await hs.login("alice", device_id="SECOND"))["access_token"]
    await ok(hs, "POST", "/logout", second, {})
    await hs.login("alice", device_id="THIRD")
    body = {"devices": ["THIRD"], "auth": password_auth("alice")}
    await ok(hs, "POST", "/delete_devices", alice, body)
    devices = hs.services.users.devices.device_ids(ALICE)
    assert "SECOND" not in devices and "THIRD" not in devices
    await ok(hs, "POST", "/account/deactivate", alice, {"auth": password_auth("alice")})
    assert not hs.services.users.accounts.is_active(ALICE)


async def test_lifting_restores(start: StartHomeserver) -> None:
    w = await suspended_world(start)
    path = f"/rooms/{w.mine}/send/m.room.message/s1"
    status, _ = await w.hs.request("PUT", path, MESSAGE, token=w.alice)
    assert status == 403
    await ok(w.hs, "PUT", SUSPEND, w.admin, {"suspended": False})
    await ok(w.hs, "PUT", path, w.alice, MESSAGE)
    await ok(w.hs, "POST", f"/join/{w.invited}", w.alice, {})
    await ok(w.hs, "PUT", f"/profile/{ALICE}/displayname", w.alice, {"displayname": "New"})
