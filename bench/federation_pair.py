"""What the cross-server benchmarks share: accounts on either kind of server, rooms,
bounded concurrent loops and a long-polling /sync that waits for something."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from bench.client import CS, Client, q, timeline_events
from tests.kit.server import ServerProcess
from tests.kit.synapse_peer import SynapsePeer

ROOM_VERSION = "10"
PASSWORD = "pw-bench-123"
#: Requests in flight while filling a room and sending EDUs.
SETUP_CONCURRENCY = 8
#: No single wait (one message to arrive, a join, the last PDU) lasts longer.
WAIT_S = 120.0
#: A whole loop (a room's setup, or sending the EDUs) is cut off here.
SETUP_S = 1800.0

Homeserver = ServerProcess | SynapsePeer
Seen = Callable[[dict[str, Any]], bool]


async def account(session: aiohttp.ClientSession, server: Homeserver, username: str) -> Client:
    client = Client(session, server.base_url)
    if isinstance(server, SynapsePeer):
        await client.register_shared_secret(server.shared_secret, username, PASSWORD)
    else:
        await client.register_open(username, PASSWORD)
    return client


async def create_room(client: Client) -> str:
    reply = await client.request(
        "POST",
        f"{CS}/createRoom",
        "createRoom",
        body={"preset": "public_chat", "room_version": ROOM_VERSION},
    )
    return str(reply["room_id"])


async def join_via(client: Client, room_id: str, server_name: str) -> None:
    await client.request(
        "POST",
        f"{CS}/join/{q(room_id)}",
        "join",
        body={},
        params={"server_name": server_name},
        wait_s=WAIT_S,
    )


async def bounded(count: int, concurrency: int, step: Callable[[int], Awaitable[None]]) -> None:
    """``step(0..count-1)``, ``concurrency`` at a time, cut off after SETUP_S."""
    indices = iter(range(count))
    deadline = time.monotonic() + SETUP_S

    async def worker() -> None:
        for index in indices:
            if time.monotonic() > deadline:
                raise TimeoutError(f"setup took over {SETUP_S}s at {index}/{count}")
            await step(index)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


class Syncer:
    """One user's incremental /sync on a server."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.since: str | None = None

    async def start(self) -> None:
        self.since = (await self.client.sync())["next_batch"]

    async def next(self) -> dict[str, Any]:
        reply = await self.client.sync(self.since, timeout_ms=10_000, request_timeout=30)
        self.since = reply["next_batch"]
        return reply

    async def until(self, seen: Seen) -> None:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if seen(await self.next()):
                return
        raise TimeoutError(f"not seen in {WAIT_S}s")


def has_body(room: str, body: str) -> Seen:
    """Whether a /sync answer has the message ``body`` in ``room``'s timeline."""

    def seen(reply: dict[str, Any]) -> bool:
        return any(
            r == room and event.get("content", {}).get("body") == body
            for r, event in timeline_events(reply)
        )

    return seen
