"""MSC4102: when a user has an unthreaded and a threaded read receipt on the same
event, /sync shows the unthreaded one, in whichever order they were sent; threaded
receipts on other events are shown as they are (Complement
TestThreadReceiptsInSyncMSC4102)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kit.homeserver import Homeserver

from .conftest import Users
from .test_relations_http import relating, send


async def _receipts(users: Users, user: str, room: str, since: str | None) -> dict[str, Any]:
    params = {"since": since} if since is not None else {}
    synced = await users.ok(user, "GET", "/sync", **params)
    ephemeral = synced["rooms"]["join"][room]["ephemeral"]["events"]
    content: dict[str, Any] = next(e for e in ephemeral if e["type"] == "m.receipt")["content"]
    return content


@pytest.mark.parametrize("threaded_first", [False, True])
@pytest.mark.parametrize("incremental", [False, True])
async def test_unthreaded_receipt_wins_on_the_same_event(
    hs: Homeserver, users: Users, threaded_first: bool, incremental: bool
) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    await users.ok(bob, "POST", f"/rooms/{room}/join", {})
    root = await send(users, alice, room, "1", {"msgtype": "m.text", "body": "A"})
    reply = await send(users, alice, room, "2", relating("m.thread", root))
    since = (await users.ok(bob, "GET", "/sync"))["next_batch"] if incremental else None

    bodies: list[dict[str, Any]] = [{}, {"thread_id": root}]
    for body in reversed(bodies) if threaded_first else bodies:
        await users.ok(alice, "POST", f"/rooms/{room}/receipt/m.read/{reply}", body)

    for reader in (alice, bob):
        content = await _receipts(users, reader, room, since)
        assert "thread_id" not in content[reply]["m.read"][alice], content


async def test_threaded_receipts_on_other_events_stay_threaded(
    hs: Homeserver, users: Users
) -> None:
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {}))["room_id"]
    root = await send(users, alice, room, "1", {"msgtype": "m.text", "body": "A"})
    reply = await send(users, alice, room, "2", relating("m.thread", root))
    await users.ok(alice, "POST", f"/rooms/{room}/receipt/m.read/{root}", {})
    await users.ok(alice, "POST", f"/rooms/{room}/receipt/m.read/{reply}", {"thread_id": root})
    content = await _receipts(users, alice, room, None)
    assert "thread_id" not in content[root]["m.read"][alice]
    assert content[reply]["m.read"][alice]["thread_id"] == root
