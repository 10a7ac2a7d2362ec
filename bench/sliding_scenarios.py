"""Simplified Sliding Sync (MSC4186) scenarios, as Element X uses it.

``sliding-initial``: the first sliding sync response (a new connection) of a user in
``sliding_rooms`` rooms, with a list of the 20 most recent (Element X's first page:
``timeline_limit`` 1 and the room-list ``required_state``), cold and then p50/p95.
``sliding-latency``: one user sends, another long-polls sliding sync; from the send
to the update carrying the message.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import TYPE_CHECKING, Any

# bench.scenarios registers these scenarios, so its helpers are looked up at run time.
import bench.scenarios
from bench.client import Client

if TYPE_CHECKING:
    from bench.scenarios import Context

PATH = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync"
#: What Element X's room list asks for (matrix-sdk-ui's default required_state).
ROOM_LIST = {
    "ranges": [[0, 19]],
    "timeline_limit": 1,
    "required_state": [
        ["m.room.encryption", ""],
        ["m.room.member", "$LAZY"],
        ["m.room.member", "$ME"],
        ["m.room.name", ""],
        ["m.room.topic", ""],
        ["m.room.avatar", ""],
        ["m.room.canonical_alias", ""],
        ["m.room.power_levels", ""],
        ["m.room.join_rules", ""],
        ["m.room.create", ""],
    ],
}
BODY = {
    "lists": {"all_rooms": ROOM_LIST},
    "extensions": {
        "account_data": {"enabled": True},
        "receipts": {"enabled": True},
        "typing": {"enabled": True},
    },
}


async def sliding(
    client: Client, conn_id: str, pos: str | None = None, timeout_ms: int = 0
) -> dict[str, Any]:
    params = {"timeout": str(timeout_ms)}
    if pos is not None:
        params["pos"] = pos
    reply: dict[str, Any] = await client.request(
        "POST",
        PATH,
        "sliding sync",
        body={**BODY, "conn_id": conn_id},
        params=params,
        wait_s=timeout_ms / 1000 + 60,
    )
    return reply


async def sliding_initial(ctx: Context) -> dict[str, float]:
    user, _ = await ctx.new_user()
    rooms = await bench.scenarios.bounded(
        [user.create_room(public=False) for _ in range(ctx.sizes.sliding_rooms)],
        ctx.sizes.setup_concurrency,
    )
    await bench.scenarios.bounded(
        [user.send_text(room, f"latest in {room}") for room in rooms],
        ctx.sizes.setup_concurrency,
    )
    latencies: list[float] = []
    for i in range(ctx.sizes.syncs):
        started = time.perf_counter()
        reply = await sliding(user, f"bench-{i}")
        latencies.append(time.perf_counter() - started)
        count = reply["lists"]["all_rooms"]["count"]
        assert count >= len(rooms), f"the list counts {count} of {len(rooms)} rooms"
        assert len(reply["rooms"]) == min(20, count), "the first page is not 20 rooms"
    return {
        "cold_ms": _ms(latencies[0]),
        "p50_ms": _ms(statistics.median(latencies)),
        "p95_ms": _ms(bench.scenarios.percentile(latencies, 95)),
    }


async def sliding_latency(ctx: Context) -> dict[str, float]:
    sender, receiver = await ctx.new_users(2)
    room_id = await sender.create_room(public=True)
    await receiver.join(room_id)
    pos = (await sliding(receiver, "latency"))["pos"]
    latencies: list[float] = []
    deadline = time.monotonic() + ctx.sizes.scenario_timeout_s
    for i in range(ctx.sizes.e2e_messages):
        waiting = asyncio.create_task(sliding(receiver, "latency", pos, timeout_ms=10_000))
        await asyncio.sleep(0.05)  # let the long-poll reach the server
        sent = time.perf_counter()
        await sender.send_text(room_id, f"sliding {i}")
        for _ in range(10):  # wake-ups for other reasons are allowed, not endless
            reply = await waiting
            pos = reply["pos"]
            timeline = reply.get("rooms", {}).get(room_id, {}).get("timeline", [])
            if any(e.get("content", {}).get("body") == f"sliding {i}" for e in timeline):
                latencies.append(time.perf_counter() - sent)
                break
            assert time.monotonic() < deadline, "sliding-latency ran out of time"
            waiting = asyncio.create_task(sliding(receiver, "latency", pos, timeout_ms=10_000))
        else:
            raise AssertionError(f"message {i} never came down the sliding sync")
    return {
        "p50_ms": _ms(statistics.median(latencies)),
        "p95_ms": _ms(bench.scenarios.percentile(latencies, 95)),
    }


def _ms(seconds: float) -> float:
    return bench.scenarios.ms(seconds)
