"""How long persisting a sliding sync connection blocks the event loop.

A real RocksDB in a temporary directory, one connection of ``--rooms`` rooms: its
first write (every room), then a response that changes one room; for each, the time
``Connections.commit`` takes on the loop and the longest gap a 1 ms ticker task sees
until the write is on disk (``ConnectionStore.drained``), i.e. how long other
requests would wait. Then reading the connection back after a restart, on the loop
(``state_at`` alone) and off it (``read_back`` first, as the service does). Prints
JSON.

    python -m bench.sliding_store --rooms 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from conduwuit.db import Database, DatabaseOptions
from conduwuit.service.sliding_sync.connections import Connections, ConnState, SentRoom
from conduwuit.service.sliding_sync.stored import ConnectionStore

KEY = ("@bench:x", "DEV", "room-list")
#: What Element X's room list asks for, as state keys a room was sent with.
REQUIRED = frozenset(
    {("m.room.name", ""), ("m.room.member", "$ME"), ("m.room.member", "$LAZY"), ("*", "")}
)


def _room(i: int) -> SentRoom:
    return SentRoom(i, "join", REQUIRED, i, frozenset({f"@m{i % 7}:x"}), 1)


async def _blocking(
    step: Callable[[], Awaitable[Any] | Any], store: ConnectionStore
) -> dict[str, float]:
    """``step``'s time on the loop (awaited if it returns an awaitable), and the
    longest loop gap until it and the writes it queued are done."""
    gaps: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    gaps.clear()
    start = time.perf_counter()
    result = step()
    on_loop = time.perf_counter() - start
    if asyncio.iscoroutine(result):
        await result
    await store.drained()
    total = time.perf_counter() - start
    await asyncio.sleep(0.005)
    stop.set()
    await task
    return {
        "call_on_loop_ms": round(on_loop * 1000, 2),
        "until_done_ms": round(total * 1000, 2),
        "max_loop_gap_ms": round(max(gaps, default=0.0) * 1000, 2),
    }


async def measure(rooms: int, path: Path) -> dict[str, Any]:
    db = Database.open(DatabaseOptions(path=path))
    store = ConnectionStore(db)
    try:
        conns = Connections(lambda: 0.0, store)
        state = ConnState({f"!{i}:bench": _room(i) for i in range(rooms)}, {"all": rooms})
        pos: list[int] = []
        first = await _blocking(lambda: pos.append(conns.commit(KEY, None, state)), store)
        changed = dict(state.rooms)
        changed["!0:bench"] = _room(rooms + 1)
        next_state = ConnState(changed, state.list_counts)
        one = await _blocking(lambda: pos.append(conns.commit(KEY, pos[0], next_state)), store)
        # Restarts: the connection is on disk only.
        cold = Connections(lambda: 0.0, store)
        on_loop = await _blocking(lambda: cold.state_at(KEY, pos[1]), store)
        restarted = Connections(lambda: 0.0, store)
        off_loop = await _blocking(lambda: restarted.read_back(KEY), store)
        assert restarted.state_at(KEY, pos[1]) == next_state
    finally:
        store.close()
        db.close()
    return {
        "rooms": rooms,
        "first_write": first,
        "one_room_change": one,
        "read_back_on_loop": on_loop,
        "read_back_off_loop": off_loop,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=20_000)
    args = parser.parse_args(argv)
    if not 1 <= args.rooms <= 20_000:
        parser.error("--rooms: 1 to 20000 (the bound of a connection)")
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(measure(args.rooms, Path(tmp) / "db"))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
