"""Relations stay inside their room (issue #13): a relation to another room's event is
refused, and no read path serves an event its reader may not see."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kit.homeserver import Homeserver

from .conftest import Users

V1 = "/_matrix/client/v1"


async def send(users: Users, user: str, room: str, txn: str, content: dict[str, Any]) -> str:
    reply = await users.ok(user, "PUT", f"/rooms/{room}/send/m.room.message/{txn}", content)
    return str(reply["event_id"])


def relating(rel_type: str, target: str) -> dict[str, Any]:
    relates: dict[str, Any] = {"rel_type": rel_type, "event_id": target}
    if rel_type == "m.annotation":
        relates["key"] = "+1"
    return {"msgtype": "m.text", "body": "* hi", "m.relates_to": relates}


@pytest.mark.parametrize(
    "rel_type", ["m.thread", "m.reference", "m.annotation", "m.replace", "org.example.custom"]
)
async def test_relation_to_another_rooms_event_is_refused(
    hs: Homeserver, users: Users, rel_type: str
) -> None:
    alice, mallory = await users.add("alice"), await users.add("mallory")
    private = (await users.ok(alice, "POST", "/createRoom", {}))["room_id"]
    secret = await send(users, alice, private, "1", {"msgtype": "m.text", "body": "secret"})
    own = (await users.ok(mallory, "POST", "/createRoom", {}))["room_id"]
    before = await users.ok(mallory, "GET", f"/rooms/{own}/messages", dir="b")

    status, reply = await users.call(
        mallory, "PUT", f"/rooms/{own}/send/m.room.message/x", relating(rel_type, secret)
    )
    # Synapse (handlers/message.py _validate_event_relation): SynapseError(400, ...),
    # whose errcode is M_UNKNOWN.
    assert (status, reply["errcode"]) == (400, "M_UNKNOWN"), reply
    assert "same room" in reply["error"]

    # Nothing changed: no event in mallory's room, no thread, no relation on the secret.
    after = await users.ok(mallory, "GET", f"/rooms/{own}/messages", dir="b")
    assert after["chunk"] == before["chunk"]
    assert (await users.ok(mallory, "GET", f"{V1}/rooms/{own}/threads"))["chunk"] == []
    status, _ = await users.call(mallory, "GET", f"{V1}/rooms/{own}/relations/{secret}")
    assert status == 404
    related = await users.ok(alice, "GET", f"{V1}/rooms/{private}/relations/{secret}")
    assert related["chunk"] == []
    event = await users.ok(alice, "GET", f"/rooms/{private}/event/{secret}")
    assert "m.relations" not in event.get("unsigned", {})
    assert (await users.ok(alice, "GET", f"{V1}/rooms/{private}/threads"))["chunk"] == []


async def test_relation_to_unknown_event_is_refused(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {}))["room_id"]
    status, reply = await users.call(
        alice, "PUT", f"/rooms/{room}/send/m.room.message/x", relating("m.thread", "$nope")
    )
    assert (status, reply["errcode"]) == (400, "M_UNKNOWN"), reply
    assert (await users.ok(alice, "GET", f"{V1}/rooms/{room}/threads"))["chunk"] == []


async def test_relations_in_the_same_room_still_work(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {}))["room_id"]
    root = await send(users, alice, room, "1", {"msgtype": "m.text", "body": "root"})
    reply_id = await send(users, alice, room, "2", relating("m.thread", root))
    threads = await users.ok(alice, "GET", f"{V1}/rooms/{room}/threads")
    assert [t["event_id"] for t in threads["chunk"]] == [root]
    summary = threads["chunk"][0]["unsigned"]["m.relations"]["m.thread"]
    assert summary["latest_event"]["event_id"] == reply_id


async def test_bundled_thread_summary_hides_replies_the_reader_may_not_see(
    hs: Homeserver, users: Users
) -> None:
    """A thread reply sent while bob was away (history "joined") is not bundled into
    the root bob reads after rejoining: /event, /context, /messages, /sync, /threads."""
    alice, bob = await users.add("alice"), await users.add("bob")
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    await users.ok(
        alice,
        "PUT",
        f"/rooms/{room}/state/m.room.history_visibility",
        {"history_visibility": "joined"},
    )
    await users.ok(bob, "POST", f"/join/{room}", {})
    root = await send(users, alice, room, "1", {"msgtype": "m.text", "body": "root"})
    await users.ok(bob, "POST", f"/rooms/{room}/leave", {})
    hidden = await send(users, alice, room, "2", relating("m.thread", root))
    await users.ok(bob, "POST", f"/join/{room}", {})

    # alice sees the reply bundled; bob, who was away, does not.
    event = await users.ok(alice, "GET", f"/rooms/{room}/event/{root}")
    assert event["unsigned"]["m.relations"]["m.thread"]["latest_event"]["event_id"] == hidden
    event = await users.ok(bob, "GET", f"/rooms/{room}/event/{root}")
    assert "m.relations" not in event["unsigned"]
    context = await users.ok(bob, "GET", f"/rooms/{room}/context/{root}")
    assert "m.relations" not in context["event"]["unsigned"]
    messages = await users.ok(bob, "GET", f"/rooms/{room}/messages", dir="b", limit="50")
    for e in messages["chunk"]:
        assert e["event_id"] != hidden
        assert "m.relations" not in e.get("unsigned", {}), e
    sync = await users.ok(bob, "GET", "/sync")
    for e in sync["rooms"]["join"][room]["timeline"]["events"]:
        assert e["event_id"] != hidden
        assert "m.relations" not in e.get("unsigned", {}), e
    related = await users.ok(bob, "GET", f"{V1}/rooms/{room}/relations/{root}")
    assert related["chunk"] == []
    threads = await users.ok(bob, "GET", f"{V1}/rooms/{room}/threads")
    for t in threads["chunk"]:
        assert "m.relations" not in t["unsigned"], t
