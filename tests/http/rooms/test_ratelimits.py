"""Per-user rate limits on room actions (messages, creation, joins, invites, typing,
presence): the request past the burst is a 429 with ``retry_after_ms`` that changes
nothing, the limit lifts with time, other users are unaffected, and 0 disables it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.kit.homeserver import Homeserver, StartHomeserver

from .conftest import Users

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Action:
    """One limited action: ``setup`` once per user, then ``act`` with a fresh ``i``."""

    option: str
    setup: Callable[[Users, str], Awaitable[Any]]
    act: Callable[[Users, str, Any, int], Awaitable[tuple[int, Any]]]
    #: What the action changes, seen by ``user``; a refused one leaves it as it was.
    observe: Callable[[Users, str, Any], Awaitable[Any]]


async def own_room(users: Users, user: str) -> str:
    room: str = (await users.ok(user, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    return room


async def messages(users: Users, user: str, room: str) -> list[Any]:
    page = await users.ok(user, "GET", f"/rooms/{room}/messages", dir="b", limit="50")
    return [e["event_id"] for e in page["chunk"]]


async def send(users: Users, user: str, room: str, i: int) -> tuple[int, Any]:
    body = {"msgtype": "m.text", "body": f"hi {i}"}
    return await users.call(user, "PUT", f"/rooms/{room}/send/m.room.message/t{i}", body)


async def put_state(users: Users, user: str, room: str, i: int) -> tuple[int, Any]:
    return await users.call(user, "PUT", f"/rooms/{room}/state/m.room.topic", {"topic": f"{i}"})


async def room_with_events(users: Users, user: str) -> tuple[str, list[str]]:
    room = await own_room(users, user)
    sent = []
    for i in range(6):
        users.hs.clock.advance(HOUR_MS)  # the sends here are setup: let each refill
        sent.append((await send(users, user, room, 100 + i))[1]["event_id"])
    return room, sent


async def redact(users: Users, user: str, ctx: tuple[str, list[str]], i: int) -> tuple[int, Any]:
    room, sent = ctx
    return await users.call(user, "PUT", f"/rooms/{room}/redact/{sent[i]}/r{i}", {})


async def create(users: Users, user: str, ctx: None, i: int) -> tuple[int, Any]:
    return await users.call(user, "POST", "/createRoom", {"name": f"room {i}"})


async def joined(users: Users, user: str, ctx: object) -> list[str]:
    reply: list[str] = (await users.ok(user, "GET", "/joined_rooms"))["joined_rooms"]
    return sorted(reply)


async def public_rooms(users: Users, user: str) -> list[str]:
    """Rooms for ``user`` to join, made by someone else."""
    owner = await users.add(f"owner-{user[1:].split(':')[0]}")
    return [await own_room(users, owner) for _ in range(6)]


async def join(users: Users, user: str, rooms: list[str], i: int) -> tuple[int, Any]:
    return await users.call(user, "POST", f"/join/{rooms[i]}", {})


async def invitees(users: Users, user: str) -> tuple[str, list[str]]:
    name = user[1:].split(":")[0]
    return await own_room(users, user), [await users.add(f"{name}-guest{i}") for i in range(6)]


async def invite(users: Users, user: str, ctx: tuple[str, list[str]], i: int) -> tuple[int, Any]:
    room, targets = ctx
    return await users.call(user, "POST", f"/rooms/{room}/invite", {"user_id": targets[i]})


async def members(users: Users, user: str, ctx: tuple[str, list[str]]) -> Any:
    return await users.ok(user, "GET", f"/rooms/{ctx[0]}/members")


async def typing(users: Users, user: str, room: str, i: int) -> tuple[int, Any]:
    body = {"typing": i % 2 == 0, "timeout": 30_000}
    return await users.call(user, "PUT", f"/rooms/{room}/typing/{user}", body)


async def typing_users(users: Users, user: str, room: str) -> list[str]:
    return users.hs.services.rooms.typing.typing_users(room)


async def nothing(users: Users, user: str) -> None:
    return None


async def presence(users: Users, user: str, ctx: None, i: int) -> tuple[int, Any]:
    body = {"presence": "online", "status_msg": f"status {i}"}
    return await users.call(user, "PUT", f"/presence/{user}/status", body)


async def own_presence(users: Users, user: str, ctx: None) -> Any:
    reply = await users.ok(user, "GET", f"/presence/{user}/status")
    return reply.get("status_msg")


async def own_rooms(users: Users, user: str, ctx: None) -> list[str]:
    return await joined(users, user, ctx)


ACTIONS = {
    "send": Action("message", own_room, send, messages),
    "state": Action("message", own_room, put_state, messages),
    "redact": Action("message", room_with_events, redact, lambda u, me, c: messages(u, me, c[0])),
    "create": Action("room_creation", nothing, create, own_rooms),
    "join": Action("joins", public_rooms, join, joined),
    "invite": Action("invites", invitees, invite, members),
    "typing": Action("typing", own_room, typing, typing_users),
    "presence": Action("presence", nothing, presence, own_presence),
}


async def limited(start: StartHomeserver, option: str, burst: int = 2) -> Homeserver:
    hs = await start(
        **{f"rate_limit_{option}_per_second": 0.1, f"rate_limit_{option}_burst": burst}
    )
    # The first account is a server admin, exempt from the limits: take it here.
    await hs.register("root")
    return hs


@pytest.mark.parametrize("name", list(ACTIONS))
async def test_limit_refuses_past_burst_then_recovers(start: StartHomeserver, name: str) -> None:
    action = ACTIONS[name]
    hs = await limited(start, action.option)
    users = Users(hs)
    alice, bob = await users.add("alice"), await users.add("bob")
    ctx = {alice: await action.setup(users, alice), bob: await action.setup(users, bob)}
    hs.clock.advance(HOUR_MS)  # whatever setup spent has refilled
    for i in range(2):
        status, reply = await action.act(users, alice, ctx[alice], i)
        assert status == 200, reply

    seen, position = await action.observe(users, alice, ctx[alice]), hs.services.db.current_count()
    status, reply = await action.act(users, alice, ctx[alice], 2)
    assert (status, reply["errcode"]) == (429, "M_LIMIT_EXCEEDED")
    assert 0 < reply["retry_after_ms"] <= 10_001
    assert await action.observe(users, alice, ctx[alice]) == seen
    assert hs.services.db.current_count() == position

    status, reply = await action.act(users, bob, ctx[bob], 0)
    assert status == 200, reply  # bob has his own bucket

    hs.clock.advance(10_001)  # one token at 0.1/s
    status, reply = await action.act(users, alice, ctx[alice], 2)
    assert status == 200, reply


@pytest.mark.parametrize("name", list(ACTIONS))
async def test_zero_disables_limit(start: StartHomeserver, name: str) -> None:
    action = ACTIONS[name]
    hs = await start(
        **{f"rate_limit_{action.option}_per_second": 0, f"rate_limit_{action.option}_burst": 1}
    )
    users = Users(hs)
    await users.add("root")  # the admin; alice is not one
    alice = await users.add("alice")
    ctx = await action.setup(users, alice)
    for i in range(5):
        status, reply = await action.act(users, alice, ctx, i)
        assert status == 200, reply


async def test_server_admins_are_exempt(start: StartHomeserver) -> None:
    hs = await start(rate_limit_message_per_second=0.1, rate_limit_message_burst=1)
    users = Users(hs)
    root = await users.add("root")  # the first account is a server admin
    alice = await users.add("alice")
    account = hs.services.users.accounts.get(root)
    assert account is not None and account.is_admin
    rooms = {u: await own_room(users, u) for u in (root, alice)}
    await users.ok(alice, "PUT", f"/rooms/{rooms[alice]}/send/m.room.message/t0", {"body": "0"})
    status, reply = await send(users, alice, rooms[alice], 1)
    assert (status, reply["errcode"]) == (429, "M_LIMIT_EXCEEDED")
    for i in range(5):
        status, reply = await send(users, root, rooms[root], i)
        assert status == 200, reply


async def test_retried_transaction_is_free(start: StartHomeserver) -> None:
    hs = await limited(start, "message", burst=1)
    users = Users(hs)
    alice = await users.add("alice")
    room = await own_room(users, alice)
    first = await send(users, alice, room, 0)
    again = await send(users, alice, room, 0)  # same txn id: the first reply, no charge
    assert first == again and first[0] == 200
    status, reply = await send(users, alice, room, 1)
    assert (status, reply["errcode"]) == (429, "M_LIMIT_EXCEEDED")


async def test_joining_a_joined_room_is_free(start: StartHomeserver) -> None:
    hs = await limited(start, "joins", burst=1)
    users = Users(hs)
    alice = await users.add("alice")
    room = await own_room(users, alice)  # the creator is joined; creating is no join
    for _ in range(3):
        await users.ok(alice, "POST", f"/rooms/{room}/join", {})
    rooms = await public_rooms(users, alice)
    await users.ok(alice, "POST", f"/join/{rooms[0]}", {})
    status, reply = await users.call(alice, "POST", f"/join/{rooms[1]}", {})
    assert (status, reply["errcode"]) == (429, "M_LIMIT_EXCEEDED")


async def test_invites_received_are_limited_per_target(start: StartHomeserver) -> None:
    hs = await limited(start, "invites_received", burst=1)
    users = Users(hs)
    alice, bob, carol = [await users.add(n) for n in ("alice", "bob", "carol")]
    rooms = {u: await own_room(users, u) for u in (alice, bob)}
    await users.ok(alice, "POST", f"/rooms/{rooms[alice]}/invite", {"user_id": carol})
    position = hs.services.db.current_count()
    # Another inviter, same target: refused, and bob's own bucket is not charged.
    status, reply = await users.call(bob, "POST", f"/rooms/{rooms[bob]}/invite", {"user_id": carol})
    assert (status, reply["errcode"]) == (429, "M_LIMIT_EXCEEDED")
    assert reply["retry_after_ms"] > 0
    assert hs.services.db.current_count() == position
    assert hs.services.rooms.storage.member_index.membership(carol, rooms[bob]) is None
    await users.ok(bob, "POST", f"/rooms/{rooms[bob]}/invite", {"user_id": alice})
    hs.clock.advance(10_001)
    await users.ok(bob, "POST", f"/rooms/{rooms[bob]}/invite", {"user_id": carol})


async def test_a_flood_is_refused_cheaply_and_the_server_stays_responsive(
    start: StartHomeserver,
) -> None:
    """400 sends in a burst by one user: all but the burst are 429s that write nothing,
    and /versions requests made meanwhile are answered within a bound."""
    hs = await limited(start, "message", burst=10)
    users = Users(hs)
    alice = await users.add("alice")
    room = await own_room(users, alice)
    hs.clock.advance(HOUR_MS)
    before = await messages(users, alice, room)

    async def flood() -> list[int]:
        statuses = []
        for wave in range(8):
            replies = await asyncio.gather(
                *(send(users, alice, room, 1000 + wave * 50 + i) for i in range(50))
            )
            statuses += [status for status, _ in replies]
        return statuses

    async def versions() -> float:
        await asyncio.sleep(0.01)
        started = time.monotonic()
        status, _ = await hs.request("GET", "/_matrix/client/versions")
        assert status == 200
        return time.monotonic() - started

    statuses, *waits = await asyncio.wait_for(
        asyncio.gather(flood(), *(versions() for _ in range(5))), timeout=60
    )
    assert statuses.count(200) == 10 and statuses.count(429) == 390
    after = await messages(users, alice, room)
    assert len(after) == len(before) + 10
    # Generous for a loaded 2-core test machine: no request waits behind the flood.
    assert max(waits) < 1.0, waits
