"""Private read receipts (spec "Private read receipts"): ``m.read.private`` reaches
the sender's own clients through /sync (initial and incremental), and no one else's."""

from __future__ import annotations

from typing import Any

from tests.kit.homeserver import Homeserver

from .conftest import Users
from .test_relations_http import send


def _receipt_content(synced: dict[str, Any], room: str) -> dict[str, Any]:
    joined = synced.get("rooms", {}).get("join", {}).get(room, {})
    for event in joined.get("ephemeral", {}).get("events", []):
        if event["type"] == "m.receipt":
            content: dict[str, Any] = event["content"]
            return content
    return {}


async def test_private_receipt_reaches_only_its_sender(hs: Homeserver, users: Users) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    await users.ok(bob, "POST", f"/rooms/{room}/join", {})
    event = await send(users, bob, room, "1", {"msgtype": "m.text", "body": "hi"})
    alice_since = (await users.ok(alice, "GET", "/sync"))["next_batch"]
    bob_since = (await users.ok(bob, "GET", "/sync"))["next_batch"]

    await users.ok(alice, "POST", f"/rooms/{room}/receipt/m.read.private/{event}", {})

    incremental = await users.ok(alice, "GET", "/sync", since=alice_since, timeout="0")
    mine = _receipt_content(incremental, room)
    assert alice in mine[event]["m.read.private"]
    initial = _receipt_content(await users.ok(alice, "GET", "/sync"), room)
    assert alice in initial[event]["m.read.private"]
    # Bob sees nothing of it, neither in an incremental nor in an initial sync.
    theirs = await users.ok(bob, "GET", "/sync", since=bob_since, timeout="0")
    assert "m.read.private" not in _receipt_content(theirs, room).get(event, {})
    bob_initial = _receipt_content(await users.ok(bob, "GET", "/sync"), room)
    assert "m.read.private" not in bob_initial.get(event, {})
    # Already delivered: the next incremental sync does not repeat it.
    again = await users.ok(alice, "GET", "/sync", since=incremental["next_batch"], timeout="0")
    assert _receipt_content(again, room) == {}
