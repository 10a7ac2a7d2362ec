"""Where conduwuit's bytes are in the family scenario's steady state: a tracemalloc top-N.

    python -m bench.memory_trace [--quick] [--top 25] [--family-history 10000 ...]

Starts conduwuit under ``bench/traced_server.py`` (``tracemalloc`` from the first
import), plays ``bench/family.py`` at the runner's sizes and, three quarters into
the replay, has the server snapshot its Python allocations: the traced total, the
top allocations by package, file and line, and the top growth by line since the
idle server's snapshot (taken before the scenario), printed as JSON with the
process's RSS at each moment. Memory outside Python's allocator (RocksDB, OpenSSL, libc
arenas) is not traced: RSS minus the traced total is where it shows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Any

import aiohttp

from bench.family import ON_STEADY, family
from bench.scenarios import PRESETS, Context, Sizes
from bench.servers import Conduwuit

TRACED_SERVER = Path(__file__).resolve().parent / "traced_server.py"
SNAPSHOT_WAIT_S = 60.0


class TracedConduwuit(Conduwuit):
    """conduwuit run by ``bench/traced_server.py``, snapshots written to ``out``."""

    def __init__(self, out: Path) -> None:
        super().__init__(extra_env={"BENCH_TRACEMALLOC_OUT": str(out)})
        self.out = out

    def command(self) -> tuple[list[str], dict[str, str]]:
        argv, env = super().command()
        return [argv[0], str(TRACED_SERVER)], env


async def snapshot(server: TracedConduwuit, into: dict[str, Any]) -> None:
    """Ask for a snapshot and wait for it (bounded); the RSS beside it."""
    request = server.out.with_name(server.out.name + ".request")
    server.out.unlink(missing_ok=True)
    request.touch()
    into["rss_mib"] = round(server.rss_kib() / 1024, 1)
    for _ in range(int(SNAPSHOT_WAIT_S / 0.1)):
        if server.out.exists():
            into.update(json.loads(server.out.read_text()))
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no tracemalloc snapshot within {SNAPSHOT_WAIT_S}s")


async def play(server: TracedConduwuit, sizes: Sizes) -> dict[str, Any]:
    await asyncio.sleep(sizes.idle_s)
    idle: dict[str, Any] = {}
    await snapshot(server, idle)
    found: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        ctx = Context(server, session, sizes)

        async def hook() -> None:
            await snapshot(server, found)

        ctx.cache[ON_STEADY] = hook
        figures = await asyncio.wait_for(family(ctx), sizes.family_timeout_s)
    if "traced_mib" not in found:
        raise RuntimeError("the family scenario ended before its steady-state snapshot")
    idle_figures = {"rss_mib": idle["rss_mib"], "traced_mib": idle["traced_mib"]}
    return {"family": figures, "idle": idle_figures, "steady_state": found}


def trim(result: dict[str, Any], top: int) -> dict[str, Any]:
    steady = result["steady_state"]
    for key in ("by_package", "by_file", "by_line", "growth_by_line"):
        steady[key] = steady.get(key, [])[:top]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="the smoke sizes")
    parser.add_argument("--top", type=int, default=25)
    for f in fields(Sizes):
        if f.name.startswith("family_"):
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default))
    args = parser.parse_args(argv)
    base = PRESETS["smoke" if args.quick else "default"]
    overrides = {
        f.name: getattr(args, f.name)
        for f in fields(Sizes)
        if f.name.startswith("family_") and getattr(args, f.name) is not None
    }
    sizes = Sizes(**{**base.as_dict(), **overrides})
    with tempfile.TemporaryDirectory(prefix="bench-trace-") as tmp:
        server = TracedConduwuit(Path(tmp) / "snapshot.json")
        try:
            server.start()
            result = asyncio.run(play(server, sizes))
        finally:
            server.stop()
    print(json.dumps(trim(result, max(1, args.top)), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
