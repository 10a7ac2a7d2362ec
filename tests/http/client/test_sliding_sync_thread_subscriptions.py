"""MSC4308: thread subscription changes in sliding sync's
``io.element.msc4308.thread_subscriptions`` extension (initial, incremental, a full
batch's ``prev_batch``, waking a waiting request) and the backward list endpoint
``/unstable/io.element.msc4308/thread_subscriptions`` it pages with; every refusal
answers with its errcode."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.http.rooms.conftest import Users
from tests.http.rooms.test_thread_subscriptions import path, send
from tests.kit.homeserver import Homeserver

from .sliding_kit import hs, sliding

__all__ = ["hs"]

EXTENSION = "io.element.msc4308.thread_subscriptions"
LIST = "/_matrix/client/unstable/io.element.msc4308/thread_subscriptions"


def request(limit: int = 100) -> dict[str, Any]:
    return {"extensions": {EXTENSION: {"enabled": True, "limit": limit}}}


async def setup(hs: Homeserver, threads: int) -> tuple[Users, str, str, list[str]]:
    users = Users(hs)
    alice = await users.add("alice")
    room = str((await users.ok(alice, "POST", "/createRoom", {}))["room_id"])
    roots = [await send(users, alice, room, f"root{i}") for i in range(threads)]
    return users, alice, room, roots


async def test_initial_and_incremental_sync(hs: Homeserver) -> None:
    users, alice, room, (first, second) = await setup(hs, 2)
    token = hs.tokens[alice]
    empty = await sliding(hs, token, request())
    assert EXTENSION not in empty["extensions"]  # nothing to say: left out, as Synapse
    await users.ok(alice, "PUT", path(room, first), {})
    reply = await send(users, alice, room, "r", second)
    await users.ok(alice, "PUT", path(room, second), {"automatic": reply})
    update = await sliding(hs, token, request(), pos=empty["pos"])
    changes = update["extensions"][EXTENSION]
    stamps = {root: change["bump_stamp"] for root, change in changes["subscribed"][room].items()}
    assert changes["subscribed"][room][first]["automatic"] is False
    assert changes["subscribed"][room][second]["automatic"] is True
    assert stamps[first] < stamps[second]
    assert set(changes) == {"subscribed"}
    # Leaving a thread is an unsubscription with a later stamp; only it is new.
    await users.ok(alice, "DELETE", path(room, first))
    later = await sliding(hs, token, request(), pos=update["pos"])
    unsubscribed = later["extensions"][EXTENSION]
    assert set(unsubscribed) == {"unsubscribed"}
    assert unsubscribed["unsubscribed"][room][first]["bump_stamp"] > stamps[second]
    # An initial sync has each thread's latest state.
    initial = (await sliding(hs, token, request()))["extensions"][EXTENSION]
    assert set(initial["subscribed"][room]) == {second}
    assert set(initial["unsubscribed"][room]) == {first}
    # Not enabled: no extension.
    off = await sliding(hs, token, {"extensions": {EXTENSION: {"enabled": False}}})
    assert EXTENSION not in off["extensions"]


async def test_a_full_batch_pages_back_through_the_list_endpoint(hs: Homeserver) -> None:
    users, alice, room, roots = await setup(hs, 5)
    token = hs.tokens[alice]
    for root in roots:
        await users.ok(alice, "PUT", path(room, root), {})
    batch = (await sliding(hs, token, request(limit=2)))["extensions"][EXTENSION]
    assert set(batch["subscribed"][room]) == set(roots[3:])  # the newest two
    pages = [set(batch["subscribed"][room])]
    gap = batch["prev_batch"]
    while gap is not None:
        page = await users.ok(alice, "GET", LIST, dir="b", limit="2", **{"from": gap})
        pages.append(set(page.get("subscribed", {}).get(room, {})))
        gap = page.get("end")
    assert pages == [set(roots[3:]), set(roots[1:3]), {roots[0]}]
    # Without from: from now; to a sliding sync pos: only what changed since it.
    everything = await users.ok(alice, "GET", LIST, dir="b")
    assert set(everything["subscribed"][room]) == set(roots) and "end" not in everything
    pos = (await sliding(hs, token, {}))["pos"]
    await users.ok(alice, "DELETE", path(room, roots[0]))
    since = await users.ok(alice, "GET", LIST, dir="b", to=pos)
    stamp = since["unsubscribed"][room][roots[0]]["bump_stamp"]
    assert since == {"unsubscribed": {room: {roots[0]: {"bump_stamp": stamp}}}}
    assert stamp > max(c["bump_stamp"] for c in everything["subscribed"][room].values())


async def test_a_waiting_sync_wakes_for_a_subscription(hs: Homeserver) -> None:
    users, alice, room, (root,) = await setup(hs, 1)
    token = hs.tokens[alice]
    first = await sliding(hs, token, request())
    waiting = asyncio.ensure_future(
        sliding(hs, token, request(), pos=first["pos"], timeout_ms=10000)
    )
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await users.ok(alice, "PUT", path(room, root), {})
    woke = await asyncio.wait_for(waiting, 5)
    assert set(woke["extensions"][EXTENSION]["subscribed"][room]) == {root}


async def test_subscriptions_are_listed_only_to_their_owner(hs: Homeserver) -> None:
    users, alice, room, (root,) = await setup(hs, 1)
    await users.ok(alice, "PUT", path(room, root), {})
    bob = await users.add("bob")
    assert await users.ok(bob, "GET", LIST, dir="b") == {}
    assert EXTENSION not in (await sliding(hs, hs.tokens[bob], request()))["extensions"]


async def test_refusals(hs: Homeserver) -> None:
    users, alice, _, _ = await setup(hs, 0)
    for params, errcode in (
        ({}, "M_MISSING_PARAM"),
        ({"dir": "f"}, "M_INVALID_PARAM"),
        ({"dir": "b", "limit": "0"}, "M_INVALID_PARAM"),
        ({"dir": "b", "limit": "-1"}, "M_INVALID_PARAM"),
        ({"dir": "b", "from": "12"}, "M_INVALID_PARAM"),
        ({"dir": "b", "from": "ts"}, "M_INVALID_PARAM"),
        ({"dir": "b", "from": "ts\uff11"}, "M_INVALID_PARAM"),
        ({"dir": "b", "to": "nope"}, "M_INVALID_PARAM"),
    ):
        status, reply = await users.call(alice, "GET", LIST, **params)
        assert (status, reply["errcode"]) == (400, errcode), params
    status, _ = await hs.request("GET", LIST, params={"dir": "b"})
    assert status == 401
    for bad in ({"enabled": "yes"}, {"enabled": True, "limit": 0}, {"enabled": True, "limit": "2"}):
        body = {"extensions": {EXTENSION: bad}}
        reply = await sliding(hs, hs.tokens[alice], body, status=400)
        assert reply["errcode"] == "M_BAD_JSON"
