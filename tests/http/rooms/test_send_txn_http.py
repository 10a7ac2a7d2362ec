"""Transaction IDs of PUT /send and PUT /redact: scoped to one device and one path
(client-server API "Transaction identifiers")."""

from __future__ import annotations

from typing import Any

from tests.kit.homeserver import Homeserver

from .conftest import Users


async def bodies(users: Users, user: str, room: str) -> list[Any]:
    page = await users.ok(user, "GET", f"/rooms/{room}/messages", dir="b", limit="50")
    return [e["content"].get("body") for e in page["chunk"] if e["type"] == "m.room.message"]


async def new_room(users: Users, user: str) -> str:
    room: str = (await users.ok(user, "POST", "/createRoom", {}))["room_id"]
    return room


async def test_same_txn_id_in_two_rooms_sends_two_events(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    one, two = await new_room(users, alice), await new_room(users, alice)
    first = await users.ok(alice, "PUT", f"/rooms/{one}/send/m.room.message/t", {"body": "1"})
    second = await users.ok(alice, "PUT", f"/rooms/{two}/send/m.room.message/t", {"body": "2"})
    assert first["event_id"] != second["event_id"]
    assert await bodies(users, alice, one) == ["1"]
    assert await bodies(users, alice, two) == ["2"]


async def test_same_txn_id_with_two_event_types_sends_two_events(
    hs: Homeserver, users: Users
) -> None:
    alice = await users.add("alice")
    room = await new_room(users, alice)
    message = await users.ok(alice, "PUT", f"/rooms/{room}/send/m.room.message/t", {"body": "m"})
    other = await users.ok(alice, "PUT", f"/rooms/{room}/send/m.custom/t", {"body": "c"})
    assert message["event_id"] != other["event_id"]
    event = await users.ok(alice, "GET", f"/rooms/{room}/event/{other['event_id']}")
    assert event["type"] == "m.custom"


async def test_retransmission_returns_the_first_event_and_sends_nothing(
    hs: Homeserver, users: Users
) -> None:
    alice = await users.add("alice")
    room = await new_room(users, alice)
    path = f"/rooms/{room}/send/m.room.message/t"
    first = await users.ok(alice, "PUT", path, {"body": "once"})
    position = hs.services.db.current_count()
    again = await users.ok(alice, "PUT", path, {"body": "once"})
    # The same path under the older r0 prefix is the same request.
    r0 = await users.ok(alice, "PUT", f"/_matrix/client/r0{path}", {"body": "once"})
    assert first == again == r0
    assert hs.services.db.current_count() == position
    assert await bodies(users, alice, room) == ["once"]


async def test_transaction_is_scoped_to_the_device(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    room = await new_room(users, alice)
    path = f"/rooms/{room}/send/m.room.message/t"
    first = await users.ok(alice, "PUT", path, {"body": "phone"})
    laptop = (await hs.login("alice"))["access_token"]
    status, second = await hs.request("PUT", path, {"body": "laptop"}, token=laptop)
    assert status == 200 and second != first
    assert await bodies(users, alice, room) == ["laptop", "phone"]
    # Only the sending device sees its transaction ID.
    status, seen = await hs.request("GET", f"/rooms/{room}/event/{first['event_id']}", token=laptop)
    assert status == 200 and "transaction_id" not in seen["unsigned"]
    mine = await users.ok(alice, "GET", f"/rooms/{room}/event/{first['event_id']}")
    assert mine["unsigned"]["transaction_id"] == "t"


async def test_transaction_is_stored_beside_the_event(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    room = await new_room(users, alice)
    sent = await users.ok(alice, "PUT", f"/rooms/{room}/send/m.room.message/t", {"body": "x"})
    stored = hs.services.rooms.storage.timeline.get(sent["event_id"])
    assert stored is not None and "_txn" not in stored
    sync = await users.ok(alice, "GET", "/sync")
    timeline = sync["rooms"]["join"][room]["timeline"]["events"]
    mine = [e for e in timeline if e["event_id"] == sent["event_id"]]
    assert mine[0]["unsigned"]["transaction_id"] == "t"


async def test_refused_send_does_not_use_up_the_txn_id(hs: Homeserver, users: Users) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    path = f"/rooms/{room}/send/m.room.message/t"
    status, reply = await users.call(bob, "PUT", path, {"body": "too early"})
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    assert await bodies(users, alice, room) == []
    await users.ok(bob, "POST", f"/rooms/{room}/join", {})
    sent = await users.ok(bob, "PUT", path, {"body": "joined"})
    assert await bodies(users, alice, room) == ["joined"]
    assert sent["event_id"].startswith("$")


async def test_redaction_transactions_are_scoped_to_their_path(
    hs: Homeserver, users: Users
) -> None:
    alice = await users.add("alice")
    room = await new_room(users, alice)
    one = (await users.ok(alice, "PUT", f"/rooms/{room}/send/m.room.message/a", {"body": "1"}))[
        "event_id"
    ]
    two = (await users.ok(alice, "PUT", f"/rooms/{room}/send/m.room.message/b", {"body": "2"}))[
        "event_id"
    ]
    # Redacting two events with one txnId is two requests; the send txnIds do not clash.
    r1 = await users.ok(alice, "PUT", f"/rooms/{room}/redact/{one}/a", {})
    r2 = await users.ok(alice, "PUT", f"/rooms/{room}/redact/{two}/a", {})
    assert len({one, two, r1["event_id"], r2["event_id"]}) == 4
    position = hs.services.db.current_count()
    assert await users.ok(alice, "PUT", f"/rooms/{room}/redact/{one}/a", {}) == r1
    assert hs.services.db.current_count() == position
    page = await users.ok(alice, "GET", f"/rooms/{room}/messages", dir="b", limit="50")
    redactions = [e["redacts"] for e in page["chunk"] if e["type"] == "m.room.redaction"]
    assert sorted(redactions) == sorted([one, two])
    assert await bodies(users, alice, room) == [None, None]
