"""Room endpoints over HTTP: success and refusal paths, and refusals change nothing."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from conduwuit.api.client.rooms import reports as reports_api
from tests.kit.homeserver import Homeserver

from .conftest import Users


async def state_of(users: Users, user: str, room: str) -> list[dict[str, object]]:
    reply: list[dict[str, object]] = await users.ok(user, "GET", f"/rooms/{room}/state")
    return reply


async def test_create_send_read_and_txn_idempotency(hs: Homeserver, users: Users) -> None:
    await users.add("admin")  # the first user joins the admin room: not alice
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {"name": "Tea", "topic": "Leaves"}))[
        "room_id"
    ]
    path = f"/rooms/{room}/send/m.room.message/txn1"
    first = await users.ok(alice, "PUT", path, {"msgtype": "m.text", "body": "hello"})
    again = await users.ok(alice, "PUT", path, {"msgtype": "m.text", "body": "hello"})
    assert first == again
    event = await users.ok(alice, "GET", f"/rooms/{room}/event/{first['event_id']}")
    assert event["content"]["body"] == "hello"
    assert event["unsigned"]["transaction_id"] == "txn1"
    name = await users.ok(alice, "GET", f"/rooms/{room}/state/m.room.name/")
    assert name == {"name": "Tea"}
    full = await users.ok(alice, "GET", f"/rooms/{room}/state/m.room.name", format="event")
    assert full["type"] == "m.room.name" and full["content"] == {"name": "Tea"}
    page = await users.ok(alice, "GET", f"/rooms/{room}/messages", dir="b", limit="2")
    assert page["chunk"][0]["content"]["body"] == "hello"
    assert "end" in page
    context = await users.ok(alice, "GET", f"/rooms/{room}/context/{first['event_id']}")
    assert context["event"]["event_id"] == first["event_id"]
    assert context["events_before"]
    assert await users.ok(alice, "GET", "/joined_rooms") == {"joined_rooms": [room]}


async def test_refusals(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    bob = await users.add("bob")
    room = (await users.ok(alice, "POST", "/createRoom", {}))["room_id"]
    before = await state_of(users, alice, room)
    position = hs.services.db.current_count()

    status, reply = await users.call(bob, "PUT", f"/rooms/{room}/send/m.room.message/t", {})
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    status, reply = await users.call(bob, "GET", f"/rooms/{room}/messages")
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    status, reply = await users.call(bob, "POST", f"/rooms/{room}/join", {})
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    status, reply = await users.call(alice, "POST", "/createRoom", {"room_version": "nope"})
    assert (status, reply["errcode"]) == (400, "M_UNSUPPORTED_ROOM_VERSION")
    status, reply = await users.call(alice, "POST", "/createRoom", {"preset": "party"})
    assert (status, reply["errcode"]) == (400, "M_BAD_JSON")
    status, reply = await users.call(
        alice, "POST", "/createRoom", {"power_level_content_override": {"users": {alice: 1}}}
    )
    assert (status, reply["errcode"]) == (400, "M_INVALID_ROOM_STATE")
    status, reply = await users.call(alice, "POST", f"/rooms/{room}/kick", {"user_id": bob})
    assert status == 403
    status, reply = await users.call(alice, "POST", f"/rooms/{room}/invite", {})
    assert (status, reply["errcode"]) == (400, "M_MISSING_PARAM")
    status, reply = await users.call(alice, "GET", "/rooms/not-a-room/state")
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")
    status, reply = await users.call(alice, "GET", f"/rooms/{room}/event/$missing")
    assert (status, reply.get("errcode")) == (404, "M_NOT_FOUND"), reply
    status, reply = await users.call(alice, "PUT", f"/rooms/{room}/send/m.room.message/x")
    assert status == 200  # an empty body is an empty content object
    status, reply = await users.call(alice, "POST", "/join/%23nope:test.example", {})
    assert (status, reply.get("errcode")) == (404, "M_NOT_FOUND"), reply
    status, _ = await hs.request("POST", "/createRoom", {})
    assert status == 401

    after = await state_of(users, alice, room)
    assert after == before
    # Only the one accepted send above advanced the stream (event + short id).
    assert hs.services.db.current_count() - position <= 3


async def test_membership_flow_over_http(hs: Homeserver, users: Users) -> None:
    await users.add("admin")  # the first user joins the admin room: not alice
    alice = await users.add("alice")
    bob = await users.add("bob")
    room = (await users.ok(alice, "POST", "/createRoom", {"invite": [bob], "is_direct": True}))[
        "room_id"
    ]
    members = await users.ok(alice, "GET", f"/rooms/{room}/members", membership="invite")
    assert [m["state_key"] for m in members["chunk"]] == [bob]
    assert members["chunk"][0]["content"]["is_direct"] is True
    await users.ok(bob, "POST", f"/join/{quote(room)}", {})
    joined = await users.ok(alice, "GET", f"/rooms/{room}/joined_members")
    assert set(joined["joined"]) == {alice, bob}
    assert joined["joined"][bob]["display_name"] == "bob"
    await users.ok(alice, "POST", f"/rooms/{room}/ban", {"user_id": bob, "reason": "spam"})
    status, reply = await users.call(bob, "POST", f"/rooms/{room}/join", {})
    assert status == 403
    await users.ok(alice, "POST", f"/rooms/{room}/unban", {"user_id": bob})
    await users.ok(alice, "POST", f"/rooms/{room}/invite", {"user_id": bob})
    await users.ok(bob, "POST", f"/rooms/{room}/join", {})
    await users.ok(alice, "POST", f"/rooms/{room}/kick", {"user_id": bob, "reason": "bye"})
    status, reply = await users.call(bob, "POST", f"/rooms/{room}/forget", {})
    assert status == 200
    status, reply = await users.call(alice, "POST", f"/rooms/{room}/forget", {})
    assert (status, reply["errcode"]) == (400, "M_UNKNOWN")
    await users.ok(alice, "POST", f"/rooms/{room}/leave", {})
    assert await users.ok(alice, "GET", "/joined_rooms") == {"joined_rooms": []}


async def test_power_levels_enforced_on_state(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    bob = await users.add("bob")
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    await users.ok(bob, "POST", f"/join/{quote(room)}", {})
    status, reply = await users.call(
        bob, "PUT", f"/rooms/{room}/state/m.room.topic/", {"topic": "mine"}
    )
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    await users.ok(alice, "PUT", f"/rooms/{room}/state/m.room.topic/", {"topic": "ok"})
    same = await users.ok(alice, "PUT", f"/rooms/{room}/state/m.room.topic/", {"topic": "ok"})
    again = await users.ok(alice, "PUT", f"/rooms/{room}/state/m.room.topic", {"topic": "ok"})
    assert same == again


async def test_redaction_over_http(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {}))["room_id"]
    sent = await users.ok(alice, "PUT", f"/rooms/{room}/send/m.room.message/1", {"body": "x"})
    redaction = await users.ok(
        alice, "PUT", f"/rooms/{room}/redact/{sent['event_id']}/r1", {"reason": "oops"}
    )
    again = await users.ok(
        alice, "PUT", f"/rooms/{room}/redact/{sent['event_id']}/r1", {"reason": "oops"}
    )
    assert redaction == again
    event = await users.ok(alice, "GET", f"/rooms/{room}/event/{sent['event_id']}")
    assert event["content"] == {}
    assert event["unsigned"]["redacted_because"]["event_id"] == redaction["event_id"]


async def test_aliases_and_directory(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    bob = await users.add("bob")
    room = (
        await users.ok(
            alice,
            "POST",
            "/createRoom",
            {"room_alias_name": "lobby", "visibility": "public", "name": "Lobby"},
        )
    )["room_id"]
    alias = quote("#lobby:test.example")
    assert (await users.ok(bob, "GET", f"/directory/room/{alias}"))["room_id"] == room
    await users.ok(bob, "POST", f"/join/{alias}", {})
    public = await users.ok(bob, "GET", "/publicRooms")
    assert public["chunk"][0]["name"] == "Lobby"
    searched = await users.ok(
        bob, "POST", "/publicRooms", {"filter": {"generic_search_term": "lob"}}
    )
    assert len(searched["chunk"]) == 1
    assert (await users.ok(bob, "GET", f"/directory/list/room/{room}"))["visibility"] == "public"
    status, _ = await users.call(
        bob, "PUT", f"/directory/list/room/{room}", {"visibility": "private"}
    )
    assert status == 403
    status, _ = await users.call(bob, "DELETE", f"/directory/room/{alias}")
    assert status == 403
    await users.ok(bob, "PUT", f"/directory/room/{quote('#bobs:test.example')}", {"room_id": room})
    aliases = await users.ok(alice, "GET", f"/rooms/{room}/aliases")
    assert sorted(aliases["aliases"]) == ["#bobs:test.example", "#lobby:test.example"]
    status, _reply = await users.call(
        bob, "PUT", f"/directory/room/{quote('#bobs:test.example')}", {"room_id": room}
    )
    assert status == 409
    status, _ = await users.call(
        bob, "PUT", f"/directory/room/{quote('#x:other.example')}", {"room_id": room}
    )
    assert status == 400
    await users.ok(alice, "DELETE", f"/directory/room/{alias}")
    status, _ = await users.call(bob, "GET", f"/directory/room/{alias}")
    assert status == 404


async def test_relations_typing_receipts(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {}))["room_id"]
    root = (await users.ok(alice, "PUT", f"/rooms/{room}/send/m.room.message/1", {"body": "r"}))[
        "event_id"
    ]
    reaction = {"m.relates_to": {"rel_type": "m.annotation", "event_id": root, "key": "+1"}}
    await users.ok(alice, "PUT", f"/rooms/{room}/send/m.reaction/2", reaction)
    path = f"/_matrix/client/v1/rooms/{room}/relations/{root}/m.annotation"
    related = await users.ok(alice, "GET", path)
    assert [e["type"] for e in related["chunk"]] == ["m.reaction"]
    await users.ok(alice, "PUT", f"/rooms/{room}/typing/{alice}", {"typing": True, "timeout": 1})
    status, _ = await users.call(
        alice, "PUT", f"/rooms/{room}/typing/@bob:test.example", {"typing": True}
    )
    assert status == 403
    await users.ok(alice, "POST", f"/rooms/{room}/receipt/m.read/{root}", {})
    await users.ok(alice, "POST", f"/rooms/{room}/read_markers", {"m.fully_read": root})
    status, _ = await users.call(alice, "POST", f"/rooms/{room}/receipt/m.read/$nope", {})
    assert status == 404


async def test_profile_changes_and_deactivation_reach_rooms(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    bob = await users.add("bob")
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    await users.ok(bob, "POST", f"/rooms/{room}/join", {})
    await users.ok(bob, "PUT", f"/profile/{bob}/displayname", {"displayname": "Bobby"})
    member = await users.ok(alice, "GET", f"/rooms/{room}/state/m.room.member/{bob}")
    assert member["displayname"] == "Bobby"
    auth = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": bob}}
    status, reply = await users.call(
        bob,
        "POST",
        "/account/deactivate",
        {"auth": {**auth, "password": "correct horse battery staple"}},
    )
    assert status == 200, reply
    member = await users.ok(alice, "GET", f"/rooms/{room}/state/m.room.member/{bob}")
    assert member["membership"] == "leave"


async def test_upgrade_reports_timestamps_mutual_rooms(
    hs: Homeserver, users: Users, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_delay() -> None:
        return None

    monkeypatch.setattr(reports_api, "report_delay", no_delay)
    alice = await users.add("alice")
    bob = await users.add("bob")
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    await users.ok(bob, "POST", f"/rooms/{room}/join", {})
    sent = await users.ok(alice, "PUT", f"/rooms/{room}/send/m.room.message/1", {"body": "x"})
    event_id = sent["event_id"]

    await users.ok(
        bob, "POST", f"/rooms/{room}/report/{event_id}", {"reason": "rude", "score": -100}
    )
    status, reply = await users.call(
        bob, "POST", f"/rooms/{room}/report/{event_id}", {"reason": "x" * 751}
    )
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")
    status, _ = await users.call(bob, "POST", f"/rooms/{room}/report/$nope", {"reason": "x"})
    assert status == 404
    await users.ok(bob, "POST", f"/rooms/{room}/report", {"reason": "bad room"})

    now = hs.clock()
    found = await users.ok(
        alice,
        "GET",
        f"/_matrix/client/v1/rooms/{room}/timestamp_to_event",
        ts=str(now + 1000),
        dir="b",
    )
    assert found["event_id"] == event_id
    status, _ = await users.call(
        alice, "GET", f"/_matrix/client/v1/rooms/{room}/timestamp_to_event", ts="1", dir="b"
    )
    assert status == 404

    mutual = await users.ok(
        alice, "GET", "/_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms", user_id=bob
    )
    assert mutual == {"joined": [room]}

    status, reply = await users.call(bob, "POST", f"/rooms/{room}/upgrade", {"new_version": "11"})
    assert status == 403
    upgraded = await users.ok(alice, "POST", f"/rooms/{room}/upgrade", {"new_version": "12"})
    tombstone = await users.ok(alice, "GET", f"/rooms/{room}/state/m.room.tombstone/")
    assert tombstone["replacement_room"] == upgraded["replacement_room"]


async def test_search_over_http(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {}))["room_id"]
    sent = await users.ok(alice, "PUT", f"/rooms/{room}/send/m.room.message/1", {"body": "Tea"})
    reply = await users.ok(
        alice, "POST", "/search", {"search_categories": {"room_events": {"search_term": "tea"}}}
    )
    results = reply["search_categories"]["room_events"]["results"]
    assert [r["result"]["event_id"] for r in results] == [sent["event_id"]]
    status, body = await users.call(alice, "POST", "/search", {})
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")


async def test_filters_lazy_members_and_members_at(hs: Homeserver, users: Users) -> None:
    import json

    alice = await users.add("alice")
    bob = await users.add("bob")
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    await users.ok(alice, "PUT", f"/rooms/{room}/send/m.room.message/1", {"body": "a"})
    before_bob = (await users.ok(alice, "GET", f"/rooms/{room}/messages", limit="1"))["start"]
    await users.ok(bob, "POST", f"/rooms/{room}/join", {})
    await users.ok(bob, "PUT", f"/rooms/{room}/send/m.room.message/2", {"body": "b"})
    await users.ok(bob, "PUT", f"/rooms/{room}/send/m.reaction/3", {})

    only_messages = json.dumps({"types": ["m.room.message"], "lazy_load_members": True})
    page = await users.ok(alice, "GET", f"/rooms/{room}/messages", filter=only_messages)
    assert [e["content"]["body"] for e in page["chunk"]] == ["b", "a"]
    assert {m["state_key"] for m in page["state"]} == {alice, bob}
    not_bob = json.dumps({"not_senders": [bob]})
    page = await users.ok(alice, "GET", f"/rooms/{room}/messages", filter=not_bob)
    assert all(e["sender"] == alice for e in page["chunk"])

    uploaded = await users.ok(
        alice,
        "POST",
        f"/user/{alice}/filter",
        {"room": {"timeline": {"senders": [bob], "types": ["m.room.message"]}}},
    )
    page = await users.ok(alice, "GET", f"/rooms/{room}/messages", filter=uploaded["filter_id"])
    assert [e["content"]["body"] for e in page["chunk"]] == ["b"]
    status, _ = await users.call(alice, "GET", f"/rooms/{room}/messages", filter="999")
    assert status == 404

    then = await users.ok(alice, "GET", f"/rooms/{room}/members", at=before_bob)
    assert [m["state_key"] for m in then["chunk"]] == [alice]
    now = await users.ok(alice, "GET", f"/rooms/{room}/members")
    assert {m["state_key"] for m in now["chunk"]} == {alice, bob}


async def test_knock_over_http(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    bob = await users.add("bob")
    room = (
        await users.ok(
            alice,
            "POST",
            "/createRoom",
            {"initial_state": [{"type": "m.room.join_rules", "content": {"join_rule": "knock"}}]},
        )
    )["room_id"]
    status, _ = await users.call(bob, "POST", f"/rooms/{room}/join", {})
    assert status == 403
    await users.ok(bob, "POST", f"/knock/{room}", {"reason": "hello?"})
    knocks = await users.ok(alice, "GET", f"/rooms/{room}/members", membership="knock")
    assert [m["state_key"] for m in knocks["chunk"]] == [bob]
    await users.ok(alice, "POST", f"/rooms/{room}/invite", {"user_id": bob})
    await users.ok(bob, "POST", f"/rooms/{room}/join", {})


async def test_concurrent_senders_keep_one_linear_history(hs: Homeserver, users: Users) -> None:
    import asyncio

    alice = await users.add("alice")
    bob = await users.add("bob")
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    await users.ok(bob, "POST", f"/rooms/{room}/join", {})

    async def send(user: str, i: int) -> str:
        reply = await users.ok(user, "PUT", f"/rooms/{room}/send/m.room.message/c{i}", {"body": i})
        return str(reply["event_id"])

    async def topic(i: int) -> None:
        await users.ok(alice, "PUT", f"/rooms/{room}/state/m.room.topic/", {"topic": str(i)})

    sent = await asyncio.gather(
        *(send(alice if i % 2 else bob, i) for i in range(20)), *(topic(i) for i in range(5))
    )
    assert len(set(sent[:20])) == 20
    storage = hs.services.rooms.storage
    shortroomid = storage.short.room(room)
    assert shortroomid is not None
    assert len(storage.extremities.get(shortroomid)) == 1
    page = await users.ok(alice, "GET", f"/rooms/{room}/messages", limit="100")
    assert len([e for e in page["chunk"] if e["type"] == "m.room.message"]) == 20
    # The current topic is the last one written.
    last_topic = next(e for e in page["chunk"] if e["type"] == "m.room.topic")
    current = await users.ok(alice, "GET", f"/rooms/{room}/state/m.room.topic/")
    assert current == last_topic["content"]


@pytest.mark.parametrize("version", ["10", "11"])
async def test_local_state_key_over_255_bytes_is_refused(
    hs: Homeserver, users: Users, version: str
) -> None:
    """The lenience for old rooms (kept as rejected) is for events of other servers:
    a local event over 255 bytes is refused in every room version, nothing written."""
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {"room_version": version}))["room_id"]
    before = await state_of(users, alice, room)
    key = quote("\U0001f4a5" * 70, safe="")  # 280 bytes, 70 codepoints
    status, reply = await users.call(alice, "PUT", f"/rooms/{room}/state/my.room.breaker/{key}", {})
    assert (status, reply["errcode"]) == (400, "M_BAD_JSON"), reply
    assert "255 bytes" in reply["error"]
    assert await state_of(users, alice, room) == before


async def test_malformed_power_levels_answer_400_and_change_nothing(
    hs: Homeserver, users: Users
) -> None:
    """Room version 12 (auth rule 10.4): a creator listed in ``users`` is malformed
    content, 400 M_BAD_JSON as Synapse answers it; permission failures stay 403."""
    alice = await users.add("alice")
    bob = await users.add("bob")
    room = (await users.ok(alice, "POST", "/createRoom", {"room_version": "12"}))["room_id"]
    path = f"/rooms/{room}/state/m.room.power_levels/"
    before = await users.ok(alice, "GET", path)
    status, body = await users.call(alice, "PUT", path, {**before, "users": {alice: 100}})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = await users.call(alice, "PUT", path, {**before, "ban": "50"})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    assert await users.ok(alice, "GET", path) == before
    await users.ok(alice, "PUT", path, {**before, "users": {bob: 50}})
    assert (await users.ok(alice, "GET", path))["users"] == {bob: 50}
    await users.ok(alice, "POST", f"/rooms/{room}/invite", {"user_id": bob})
    await users.ok(bob, "POST", f"/rooms/{room}/join", {})
    status, body = await users.call(bob, "PUT", path, {**before, "users": {bob: 100}})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


async def test_join_after_direct_invite_shows_the_invite_in_unsigned(
    hs: Homeserver, users: Users
) -> None:
    """The join replacing an ``is_direct`` invite carries it in ``prev_content``, with
    ``prev_sender`` (Synapse's key, read by clients and Complement) naming the inviter."""
    alice = await users.add("alice")
    bob = await users.add("bob")
    body = {"preset": "private_chat", "invite": [bob], "is_direct": True}
    room = (await users.ok(alice, "POST", "/createRoom", body))["room_id"]
    path = f"/rooms/{room}/state/m.room.member/{bob}"
    invite = await users.ok(alice, "GET", path, format="event")
    await users.ok(bob, "POST", f"/rooms/{room}/join", {})
    joined = await users.ok(bob, "GET", path, format="event")
    event = await users.ok(bob, "GET", f"/rooms/{room}/event/{joined['event_id']}")
    assert event["unsigned"]["prev_content"] == invite["content"]
    assert invite["content"]["is_direct"] is True
    assert event["unsigned"]["prev_sender"] == alice
    assert event["unsigned"]["replaces_state"] == invite["event_id"]
    sync = await users.ok(bob, "GET", "/sync")
    timeline = sync["rooms"]["join"][room]["timeline"]["events"]
    mine = [e for e in timeline if e["event_id"] == joined["event_id"]]
    assert mine and mine[0]["unsigned"]["prev_sender"] == alice


async def test_a_second_create_event_is_a_bad_request(hs: Homeserver, users: Users) -> None:
    """400 M_INVALID_PARAM as Synapse ("Cannot resend m.room.create event"), through
    the state API and /send, in room versions 11 and 12; nothing changes."""
    alice = await users.add("alice")
    for version in ("11", "12"):
        room = (await users.ok(alice, "POST", "/createRoom", {"room_version": version}))["room_id"]
        before = await users.ok(alice, "GET", f"/rooms/{room}/state")
        body = {"room_version": version, "entropy": 100}
        for path in (f"/rooms/{room}/state/m.room.create/", f"/rooms/{room}/send/m.room.create/1"):
            status, reply = await users.call(alice, "PUT", path, body)
            assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM"), path
        assert await users.ok(alice, "GET", f"/rooms/{room}/state") == before


async def test_v12_create_event_is_found_by_its_id_with_its_room_id(
    hs: Homeserver, users: Users
) -> None:
    """Room version 12: the create event carries no room_id (its ID is the room's);
    /event and /context still find it in its room and serve its room ID."""
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {"room_version": "12"}))["room_id"]
    create_id = "$" + room[1:]
    event = await users.ok(alice, "GET", f"/rooms/{room}/event/{create_id}")
    assert (event["type"], event["room_id"]) == ("m.room.create", room)
    context = await users.ok(alice, "GET", f"/rooms/{room}/context/{create_id}")
    assert (context["event"]["event_id"], context["event"]["room_id"]) == (create_id, room)
    body = {"room_version": "12", "name": "Other"}
    other = (await users.ok(alice, "POST", "/createRoom", body))["room_id"]
    assert other != room
    status, reply = await users.call(alice, "GET", f"/rooms/{other}/event/{create_id}")
    assert (status, reply.get("errcode")) == (404, "M_NOT_FOUND"), reply


async def test_v12_rooms_created_in_the_same_millisecond_are_two_rooms(
    hs: Homeserver, users: Users
) -> None:
    """Room version 12 derives the room ID from the create event, whose only entropy is
    its time: the test clock stands still, so the second createRoom collides and is
    given a moved time (as Synapse), never the first room with the second's state."""
    alice = await users.add("alice")
    bob = await users.add("bob")
    public = {"room_version": "12", "preset": "public_chat", "name": "Public"}
    first = (await users.ok(alice, "POST", "/createRoom", public))["room_id"]
    direct = {"room_version": "12", "preset": "private_chat", "invite": [bob]}
    second = (await users.ok(alice, "POST", "/createRoom", direct))["room_id"]
    assert second != first
    assert await users.ok(alice, "GET", f"/rooms/{first}/state/m.room.name/") == {"name": "Public"}
    rules = await users.ok(alice, "GET", f"/rooms/{first}/state/m.room.join_rules/")
    assert rules["join_rule"] == "public"
    members = await users.ok(alice, "GET", f"/rooms/{first}/joined_members")
    assert set(members["joined"]) == {alice}
    create = await users.ok(alice, "GET", f"/rooms/{second}/state/m.room.create/", format="event")
    first_create = await users.ok(
        alice, "GET", f"/rooms/{first}/state/m.room.create/", format="event"
    )
    assert 1 <= create["origin_server_ts"] - first_create["origin_server_ts"] <= 10
    invited = await users.ok(alice, "GET", f"/rooms/{second}/state/m.room.member/{bob}")
    assert invited["membership"] == "invite"


async def test_invite_level_by_preset(hs: Homeserver, users: Users) -> None:
    """Synapse's defaults (the spec names none): inviting takes 50 in a public chat,
    0 in a private one, so there any member may invite."""
    alice = await users.add("alice")
    bob = await users.add("bob")
    carol = await users.add("carol")
    for preset, level, status in (("public_chat", 50, 403), ("private_chat", 0, 200)):
        body = {"preset": preset, "invite": [bob]}
        room = (await users.ok(alice, "POST", "/createRoom", body))["room_id"]
        levels = await users.ok(alice, "GET", f"/rooms/{room}/state/m.room.power_levels/")
        assert levels["invite"] == level, preset
        await users.ok(bob, "POST", f"/rooms/{room}/join", {})
        got, _ = await users.call(bob, "POST", f"/rooms/{room}/invite", {"user_id": carol})
        assert got == status, preset
