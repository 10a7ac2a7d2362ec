"""EDU throughput across two servers (``bench.federation_rooms``): to-device messages,
typing notices, read receipts and presence, each sent by users of home through the
client API as fast as a bounded concurrency allows, the clock stopping when away's
long-polling ``/sync`` has shown the last one.

Typing and presence coalesce (a server may send, and a client is shown, only a
user's latest state), so every update carries a value of its own and "shown" means
the final values are seen:

- **typing**: update ``i`` is user ``t<i>`` starting to type (one user each, so no
  update hides another); shown when every one of them has been seen typing in some
  ``m.typing`` event of away's /sync (their union: an early notice may expire on away
  before the last arrives).
- **receipts**: ``SETUP_CONCURRENCY`` users each move their ``m.read`` receipt along
  messages sent before the clock (user ``j`` takes messages ``j``, ``j + 8``, … in
  order, one request at a time, so a receipt never goes backwards); shown when every
  user's receipt on their last message has been seen.
- **presence**: the same users each set ``online`` with ``status_msg`` ``p<i>``, one
  request at a time; shown when every user's last status message has been seen.
- **to-device**: one ``m.direct_to_device`` EDU per message to away's device, 8
  requests at a time; shown when /sync has delivered every one.

Each figure is updates per second over the whole run (first request to last shown),
and ``last_ms``: from the start of the last request to the moment away showed every
update (the latency of the last one). Every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.client import CS, Client, q
from bench.federation_pair import (
    SETUP_CONCURRENCY,
    SETUP_S,
    Homeserver,
    Seen,
    Syncer,
    account,
    bounded,
    create_room,
    has_body,
    join_via,
)

#: How long a typing notice lasts on home (the longest our servers accept).
TYPING_TIMEOUT_MS = 45_000
_txn = itertools.count()


@dataclass(frozen=True)
class EduRoom:
    """A room on home with ``users`` of home and ``receiver`` of away joined."""

    room: str
    host: Client
    users: list[Client]
    receiver: Client


async def edu_room(
    session: aiohttp.ClientSession,
    home: Homeserver,
    away: Homeserver,
    host: Client,
    receiver: Client,
    users: int,
) -> EduRoom:
    """The room, once away has seen every join (the joins precede a message that
    away's /sync shows)."""
    room = await create_room(host)
    await join_via(receiver, room, home.server_name)
    clients: list[Client | None] = [None] * users

    async def member(i: int) -> None:
        client = await account(session, home, f"t{i}")
        await client.join(room)
        clients[i] = client

    await bounded(users, SETUP_CONCURRENCY, member)
    syncer = Syncer(receiver)
    await syncer.start()
    await host.send_text(room, "joined")
    await syncer.until(has_body(room, "joined"))
    return EduRoom(room, host, [c for c in clients if c is not None], receiver)


def _ephemeral(reply: dict[str, Any], room: str, kind: str) -> list[dict[str, Any]]:
    """The contents of ``room``'s ephemeral events of type ``kind`` in a /sync answer."""
    joined = reply.get("rooms", {}).get("join", {}).get(room, {})
    events = joined.get("ephemeral", {}).get("events", [])
    return [e.get("content", {}) for e in events if e.get("type") == kind]


async def lanes(count: int, width: int, step: Callable[[int], Awaitable[None]]) -> None:
    """``step(0..count-1)`` in ``width`` lanes: lane ``j`` runs ``j``, ``j + width``, …
    one after another (so one user's updates stay in order), cut off after SETUP_S."""
    deadline = time.monotonic() + SETUP_S

    async def lane(first: int) -> None:
        for index in range(first, count, width):
            if time.monotonic() > deadline:
                raise TimeoutError(f"sending took over {SETUP_S}s at {index}/{count}")
            await step(index)

    await asyncio.gather(*(lane(j) for j in range(min(width, count))))


async def timed(
    count: int,
    syncer: Syncer,
    send: Callable[[int], Awaitable[None]],
    seen: Seen,
    in_order: bool,
) -> dict[str, Any]:
    """Send ``count`` updates (in lanes when ``in_order``) while away's /sync waits for
    ``seen``: updates/s and the latency of the last one."""
    last_sent = 0.0

    async def step(index: int) -> None:
        nonlocal last_sent
        last_sent = time.perf_counter()
        await send(index)

    sending = (lanes if in_order else bounded)(count, SETUP_CONCURRENCY, step)
    started = time.perf_counter()
    await asyncio.gather(sending, syncer.until(seen))
    done = time.perf_counter()
    return {
        "per_s": round(count / (done - started), 1),
        "updates": count,
        "seconds": round(done - started, 2),
        "last_ms": round((done - last_sent) * 1000, 1),
    }


async def to_device(sender: Client, receiver: Client, count: int) -> dict[str, Any]:
    assert receiver.user_id is not None and receiver.device_id is not None
    syncer = Syncer(receiver)
    await syncer.start()
    received: set[int] = set()

    async def send(index: int) -> None:
        await sender.request(
            "PUT",
            f"{CS}/sendToDevice/org.bench.ping/e{next(_txn)}.{time.monotonic_ns()}",
            "sendToDevice",
            body={"messages": {receiver.user_id: {receiver.device_id: {"i": index}}}},
        )

    def seen(reply: dict[str, Any]) -> bool:
        for event in reply.get("to_device", {}).get("events", []):
            if event.get("type") == "org.bench.ping":
                received.add(int(event["content"]["i"]))
        return len(received) >= count

    return await timed(count, syncer, send, seen, in_order=False)


async def typing(edus: EduRoom, count: int) -> dict[str, Any]:
    users = edus.users[:count]
    expected = {str(u.user_id) for u in users}
    shown: set[str] = set()
    syncer = Syncer(edus.receiver)
    await syncer.start()

    async def send(index: int) -> None:
        user = users[index]
        await user.request(
            "PUT",
            f"{CS}/rooms/{q(edus.room)}/typing/{q(str(user.user_id))}",
            "typing",
            body={"typing": True, "timeout": TYPING_TIMEOUT_MS},
        )

    def seen(reply: dict[str, Any]) -> bool:
        for content in _ephemeral(reply, edus.room, "m.typing"):
            shown.update(content.get("user_ids", []))
        return expected <= shown

    return await timed(len(users), syncer, send, seen, in_order=False)


def _finals(count: int, users: list[Client]) -> dict[str, int]:
    """The index of each lane's (user's) last update."""
    width = min(SETUP_CONCURRENCY, count)
    return {str(users[j].user_id): max(range(j, count, width)) for j in range(width)}


async def receipts(edus: EduRoom, count: int) -> dict[str, Any]:
    # The messages to acknowledge, in timeline order (sent one after another), on
    # away before the clock starts.
    syncer = Syncer(edus.receiver)
    await syncer.start()
    events = [await edus.host.send_text(edus.room, f"r{i}") for i in range(count)]
    await syncer.until(has_body(edus.room, f"r{count - 1}"))
    index = {event_id: i for i, event_id in enumerate(events)}
    final = _finals(count, edus.users)
    shown = dict.fromkeys(final, -1)

    async def send(i: int) -> None:
        user = edus.users[i % SETUP_CONCURRENCY]
        await user.request(
            "POST",
            f"{CS}/rooms/{q(edus.room)}/receipt/m.read/{q(events[i])}",
            "receipt",
            body={},
        )

    def seen(reply: dict[str, Any]) -> bool:
        for content in _ephemeral(reply, edus.room, "m.receipt"):
            for event_id, by_type in content.items():
                for user_id in by_type.get("m.read", {}):
                    if user_id in shown and event_id in index:
                        shown[user_id] = max(shown[user_id], index[event_id])
        return shown == final

    return await timed(count, syncer, send, seen, in_order=True)


async def presence(edus: EduRoom, count: int) -> dict[str, Any]:
    final = _finals(count, edus.users)
    shown = dict.fromkeys(final, -1)
    syncer = Syncer(edus.receiver)
    await syncer.start()

    async def send(i: int) -> None:
        user = edus.users[i % SETUP_CONCURRENCY]
        await user.request(
            "PUT",
            f"{CS}/presence/{q(str(user.user_id))}/status",
            "presence",
            body={"presence": "online", "status_msg": f"p{i}"},
        )

    def seen(reply: dict[str, Any]) -> bool:
        for event in reply.get("presence", {}).get("events", []):
            status = str(event.get("content", {}).get("status_msg", ""))
            sender = event.get("sender")
            if sender in shown and status.startswith("p") and status[1:].isdigit():
                shown[sender] = max(shown[sender], int(status[1:]))
        return shown == final

    return await timed(count, syncer, send, seen, in_order=True)


#: The EDU figures besides to-device, by name (a figure and a size each).
EPHEMERAL: dict[str, Callable[[EduRoom, int], Awaitable[dict[str, Any]]]] = {
    "typing": typing,
    "receipts": receipts,
    "presence": presence,
}
