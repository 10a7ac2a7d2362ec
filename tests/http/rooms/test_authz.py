"""Authorization holes from issue #13, black-box over HTTP: every membership change
goes through the membership checks whichever endpoint carries it, and every
redaction through the redaction power check. Each refusal changes nothing."""

from __future__ import annotations

from typing import Any

from tests.kit.homeserver import Homeserver, StartHomeserver

from .conftest import Users

SERVER = "test.example"


async def restricted_room(users: Users, owner: str) -> tuple[str, str]:
    """A space anyone may join and a v10 room restricted to the space's members."""
    space = (await users.ok(owner, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    rules = {
        "join_rule": "restricted",
        "allow": [{"type": "m.room_membership", "room_id": space}],
    }
    body = {
        "room_version": "10",
        "initial_state": [{"type": "m.room.join_rules", "content": rules}],
    }
    room = (await users.ok(owner, "POST", "/createRoom", body))["room_id"]
    return space, room


class Unchanged:
    """Proves a refused request changed nothing: no stream position was used and the
    room's state (as its owner reads it) is the same."""

    def __init__(self, hs: Homeserver, users: Users, owner: str, room: str) -> None:
        self.hs, self.users, self.owner, self.room = hs, users, owner, room
        self.position = 0
        self.state: Any = None

    async def __aenter__(self) -> Unchanged:
        self.position = self.hs.services.db.current_count()
        self.state = await self.users.ok(self.owner, "GET", f"/rooms/{self.room}/state")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if exc[0] is not None:
            return
        assert self.hs.services.db.current_count() == self.position
        assert await self.users.ok(self.owner, "GET", f"/rooms/{self.room}/state") == self.state


def member_path(room: str, user: str) -> str:
    return f"/rooms/{room}/state/m.room.member/{user}"


async def test_state_api_join_cannot_bypass_restricted_allow_list(
    hs: Homeserver, users: Users
) -> None:
    alice = await users.add("alice")
    mallory = await users.add("mallory")
    _, room = await restricted_room(users, alice)
    for content in (
        {"membership": "join"},
        {"membership": "join", "join_authorised_via_users_server": alice},
    ):
        async with Unchanged(hs, users, alice, room):
            status, reply = await users.call(mallory, "PUT", member_path(room, mallory), content)
            assert (status, reply["errcode"]) == (403, "M_FORBIDDEN"), content
    assert await users.ok(mallory, "GET", "/joined_rooms") == {"joined_rooms": []}


async def test_state_api_join_sets_the_authorising_user_itself(
    hs: Homeserver, users: Users
) -> None:
    alice = await users.add("alice")
    bob = await users.add("bob")
    space, room = await restricted_room(users, alice)
    await users.ok(bob, "POST", f"/join/{space}", {})
    made_up = {"membership": "join", "join_authorised_via_users_server": f"@nobody:{SERVER}"}
    await users.ok(bob, "PUT", member_path(room, bob), made_up)
    member = await users.ok(bob, "GET", f"/rooms/{room}/state/m.room.member/{bob}")
    assert member["membership"] == "join"
    assert member["join_authorised_via_users_server"] == alice
    # Once joined, the state API changes one's own member event (a per-room name).
    await users.ok(bob, "PUT", member_path(room, bob), {"membership": "join", "displayname": "B"})
    member = await users.ok(bob, "GET", f"/rooms/{room}/state/m.room.member/{bob}")
    assert member["displayname"] == "B"
    assert "join_authorised_via_users_server" not in member


async def test_state_api_join_cannot_bypass_guest_access(start: StartHomeserver) -> None:
    hs = await start(allow_guest_registration=True)
    users = Users(hs)
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    status, guest = await hs.request("POST", "/register", {}, params={"kind": "guest"})
    assert status == 200, guest
    token, guest_id = guest["access_token"], guest["user_id"]
    async with Unchanged(hs, users, alice, room):
        status, reply = await hs.request(
            "PUT", member_path(room, guest_id), {"membership": "join"}, token=token
        )
        assert (status, reply["errcode"]) == (403, "M_GUEST_ACCESS_FORBIDDEN")
    async with Unchanged(hs, users, alice, room):
        status, reply = await hs.request("POST", f"/rooms/{room}/join", {}, token=token)
        assert (status, reply["errcode"]) == (403, "M_GUEST_ACCESS_FORBIDDEN")


async def test_every_other_membership_route_is_checked(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    bob = await users.add("bob")
    carol = await users.add("carol")
    eve = await users.add("eve")
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "private_chat"}))["room_id"]
    await users.ok(alice, "POST", f"/rooms/{room}/invite", {"user_id": bob})
    await users.ok(bob, "POST", f"/rooms/{room}/join", {})
    await users.ok(alice, "POST", f"/rooms/{room}/ban", {"user_id": eve})

    refusals: list[tuple[str, str, str, dict[str, Any], int, str]] = [
        # (who, method, path, body, status, errcode)
        (carol, "PUT", member_path(room, carol), {"membership": "join"}, 403, "M_FORBIDDEN"),
        (bob, "PUT", member_path(room, carol), {"membership": "join"}, 403, "M_FORBIDDEN"),
        (bob, "PUT", member_path(room, alice), {"membership": "leave"}, 403, "M_FORBIDDEN"),
        (bob, "PUT", member_path(room, alice), {"membership": "ban"}, 403, "M_FORBIDDEN"),
        (bob, "PUT", member_path(room, eve), {"membership": "leave"}, 403, "M_FORBIDDEN"),
        (alice, "PUT", member_path(room, eve), {"membership": "invite"}, 403, "M_FORBIDDEN"),
        (bob, "PUT", member_path(room, bob), {"membership": "knock"}, 403, "M_FORBIDDEN"),
        (eve, "PUT", member_path(room, eve), {"membership": "join"}, 403, "M_FORBIDDEN"),
        (carol, "PUT", member_path(room, carol), {"membership": "leave"}, 403, "M_FORBIDDEN"),
        (bob, "PUT", member_path(room, bob), {"membership": "dance"}, 400, "M_BAD_JSON"),
        (bob, "PUT", member_path(room, bob), {}, 400, "M_BAD_JSON"),
        (bob, "PUT", member_path(room, "not-a-user"), {"membership": "join"}, 400, "M_BAD_JSON"),
        (bob, "PUT", f"/rooms/{room}/send/m.room.member/t1", {"membership": "join"}, 403, ""),
        (carol, "POST", f"/rooms/{room}/join", {}, 403, "M_FORBIDDEN"),
        (bob, "POST", f"/rooms/{room}/kick", {"user_id": alice}, 403, "M_FORBIDDEN"),
        (bob, "POST", f"/rooms/{room}/ban", {"user_id": alice}, 403, "M_FORBIDDEN"),
        (bob, "POST", f"/rooms/{room}/unban", {"user_id": eve}, 403, "M_FORBIDDEN"),
        (alice, "POST", f"/rooms/{room}/invite", {"user_id": eve}, 403, "M_FORBIDDEN"),
    ]
    for who, method, path, body, want_status, want_code in refusals:
        async with Unchanged(hs, users, alice, room):
            status, reply = await users.call(who, method, path, body)
            assert status == want_status, (who, path, body, reply)
            assert reply["errcode"] == (want_code or "M_FORBIDDEN"), (who, path, body, reply)

    # The same routes succeed where the membership path allows them.
    await users.ok(alice, "PUT", member_path(room, carol), {"membership": "invite"})
    await users.ok(carol, "PUT", member_path(room, carol), {"membership": "join"})
    await users.ok(alice, "PUT", member_path(room, carol), {"membership": "leave"})
    await users.ok(alice, "PUT", member_path(room, eve), {"membership": "leave"})
    await users.ok(alice, "PUT", member_path(room, bob), {"membership": "ban", "reason": "r"})
    members = await users.ok(alice, "GET", f"/rooms/{room}/members")
    by_user = {m["state_key"]: m["content"] for m in members["chunk"]}
    assert by_user[carol]["membership"] == "leave"
    assert by_user[eve]["membership"] == "leave"
    assert by_user[bob] == {"membership": "ban", "reason": "r"}


async def test_redaction_through_state_or_send_needs_the_redact_power(
    hs: Homeserver, users: Users
) -> None:
    alice = await users.add("alice")
    bob = await users.add("bob")
    # Anyone may send state here, but redacting others' events needs 50.
    body = {"preset": "public_chat", "power_level_content_override": {"state_default": 0}}
    room = (await users.ok(alice, "POST", "/createRoom", body))["room_id"]
    await users.ok(bob, "POST", f"/join/{room}", {})
    message = {"msgtype": "m.text", "body": "keep me"}
    target = (await users.ok(alice, "PUT", f"/rooms/{room}/send/m.room.message/m1", message))[
        "event_id"
    ]
    for path in (
        f"/rooms/{room}/state/m.room.redaction/x",
        f"/rooms/{room}/state/m.room.redaction",
        f"/rooms/{room}/send/m.room.redaction/r1",
        f"/rooms/{room}/redact/{target}/r2",
    ):
        async with Unchanged(hs, users, alice, room):
            status, reply = await users.call(bob, "PUT", path, {"redacts": target})
            assert (status, reply["errcode"]) == (403, "M_FORBIDDEN"), path
        event = await users.ok(alice, "GET", f"/rooms/{room}/event/{target}")
        assert event["content"] == message
    # With the power to redact, the same requests are allowed.
    own = {"msgtype": "m.text", "body": "mine"}
    mine = (await users.ok(bob, "PUT", f"/rooms/{room}/send/m.room.message/m2", own))["event_id"]
    await users.ok(bob, "PUT", f"/rooms/{room}/send/m.room.redaction/r3", {"redacts": mine})
    assert (await users.ok(bob, "GET", f"/rooms/{room}/event/{mine}"))["content"] == {}
    await users.ok(alice, "PUT", f"/rooms/{room}/state/m.room.redaction/x", {"redacts": target})
    assert (await users.ok(alice, "GET", f"/rooms/{room}/event/{target}"))["content"] == {}


async def test_members_at_is_bounded_by_what_the_requester_could_see(
    hs: Homeserver, users: Users
) -> None:
    alice = await users.add("alice")
    bob = await users.add("bob")
    carol = await users.add("carol")
    body = {
        "preset": "public_chat",
        "initial_state": [
            {"type": "m.room.history_visibility", "content": {"history_visibility": "joined"}}
        ],
    }
    room = (await users.ok(alice, "POST", "/createRoom", body))["room_id"]
    await users.ok(alice, "PUT", f"/rooms/{room}/send/m.room.message/1", {"body": "hi"})
    before_bob = str(hs.services.db.current_count())
    await users.ok(bob, "POST", f"/join/{room}", {})
    while_joined = str(hs.services.db.current_count())
    await users.ok(bob, "POST", f"/rooms/{room}/leave", {})
    await users.ok(carol, "POST", f"/join/{room}", {})
    now = str(hs.services.db.current_count())

    def names(reply: Any) -> dict[str, str]:
        return {m["state_key"]: m["content"]["membership"] for m in reply["chunk"]}

    # Alice, still joined, sees the members at each point.
    assert carol in names(await users.ok(alice, "GET", f"/rooms/{room}/members", at=now))
    # Bob sees no later than his leave: no Carol.
    for at in (now, str(int(now) + 1000)):
        seen = names(await users.ok(bob, "GET", f"/rooms/{room}/members", at=at))
        assert carol not in seen and seen[bob] == "leave", at
    assert names(await users.ok(bob, "GET", f"/rooms/{room}/members", at=while_joined)) == {
        alice: "join",
        bob: "join",
    }
    # Before his join the history was hidden from him ("joined" visibility).
    status, reply = await users.call(bob, "GET", f"/rooms/{room}/members", at=before_bob)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    # Carol, joined later, may not see the room before her join either.
    status, reply = await users.call(carol, "GET", f"/rooms/{room}/members", at=before_bob)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")


async def test_room_summary_of_a_restricted_room_only_for_those_who_could_join(
    hs: Homeserver, users: Users
) -> None:
    alice = await users.add("alice")
    bob = await users.add("bob")
    mallory = await users.add("mallory")
    space, room = await restricted_room(users, alice)
    await users.ok(alice, "PUT", f"/rooms/{room}/state/m.room.name", {"name": "Secret"})
    await users.ok(bob, "POST", f"/join/{space}", {})
    private = (await users.ok(alice, "POST", "/createRoom", {"name": "Private"}))["room_id"]
    for path in (
        f"/_matrix/client/v1/room_summary/{room}",
        f"/_matrix/client/unstable/im.nheko.summary/summary/{room}",
        f"/_matrix/client/v1/room_summary/{private}",
    ):
        for token in (hs.tokens[mallory], None):
            status, reply = await hs.request("GET", path, token=token)
            assert (status, reply["errcode"]) == (404, "M_NOT_FOUND"), (path, token)
            assert "Secret" not in str(reply) and "Private" not in str(reply)
    summary = await users.ok(bob, "GET", f"/_matrix/client/v1/room_summary/{room}")
    assert summary["name"] == "Secret" and summary["allowed_room_ids"] == [space]
    assert "membership" not in summary
    summary = await users.ok(alice, "GET", f"/_matrix/client/v1/room_summary/{private}")
    assert (summary["name"], summary["membership"]) == ("Private", "join")
