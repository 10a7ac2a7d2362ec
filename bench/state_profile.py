"""Cost of one state event against the size of the room's state (docs/development/state-storage.md).

``python -m bench.state_profile [--sizes 500,2000,10000] [--top 15]``: one room on a
temp RocksDB through the real service stack (``tests/service/rooms/conftest.build``);
state events ``org.example.bulk`` with a distinct state key each are sent until the
room holds each size, the fill rate is reported per size, and one more state event
is sent under cProfile (its top functions by cumulative time printed on stderr).
JSON on stdout. Bounded: at most ``max(sizes)`` events, and ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from conduwuit.core.ids import RoomId
from conduwuit.db import Database, DatabaseOptions
from conduwuit.service.rooms.actions import CreateRoom
from tests.service.rooms.conftest import ALICE, build


async def run(sizes: list[int], top: int, max_seconds: float) -> dict[str, Any]:
    out: dict[str, Any] = {"sizes": []}
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.open(DatabaseOptions(path=Path(tmp) / "db"))
        try:
            stack = build(db, Path(tmp))
            room = RoomId.parse(await stack.actions.create_room(ALICE, CreateRoom()))
            sent = 0
            deadline = time.monotonic() + max_seconds
            for size in sorted(sizes):
                started, first = time.perf_counter(), sent
                while sent < size and time.monotonic() < deadline:
                    await stack.actions.send_state(
                        ALICE, room, "org.example.bulk", f"k{sent}", {"n": sent}
                    )
                    sent += 1
                fill = time.perf_counter() - started
                if sent < size:
                    out["sizes"].append({"size": size, "reached": sent, "timed_out": True})
                    break
                profiler = cProfile.Profile()
                one = time.perf_counter()
                profiler.enable()
                await stack.actions.send_state(ALICE, room, "org.example.bulk", "k0", {"n": -size})
                profiler.disable()
                one = time.perf_counter() - one
                text = io.StringIO()
                pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(top)
                print(f"=== state size {size} ===\n{text.getvalue()}", file=sys.stderr)
                out["sizes"].append(
                    {
                        "size": size,
                        "fill_events_per_s": round((sent - first) / fill, 1) if fill else None,
                        "one_event_ms": round(one * 1000, 2),
                    }
                )
        finally:
            db.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="500,2000,10000")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--max-seconds", type=float, default=900.0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(json.dumps(asyncio.run(run(sizes, args.top, args.max_seconds)), indent=1))


if __name__ == "__main__":
    main()
