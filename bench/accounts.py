"""Registration latency and logins per second against a fresh server process.

    python -m bench.accounts [--users 20] [--seconds 5] [--concurrency 8]

argon2id runs at the server's default cost unless --argon2-memory/--argon2-time say
otherwise, so the numbers are what a real deployment pays per password check.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import aiohttp

from bench.servers import Conduwuit

PASSWORD = "benchmark password"


async def _register(session: aiohttp.ClientSession, base: str, name: str) -> float:
    body = {"username": name, "password": PASSWORD, "auth": {"type": "m.login.dummy"}}
    started = time.perf_counter()
    async with session.post(f"{base}/_matrix/client/v3/register", json=body) as response:
        if response.status != 200:
            raise RuntimeError(f"register {name}: {response.status} {await response.text()}")
    return time.perf_counter() - started


async def _login_loop(
    session: aiohttp.ClientSession, base: str, names: list[str], deadline: float
) -> tuple[int, list[float]]:
    done, latencies, i = 0, [], 0
    while time.perf_counter() < deadline:
        name = names[i % len(names)]
        i += 1
        body = {"type": "m.login.password", "user": name, "password": PASSWORD}
        started = time.perf_counter()
        async with session.post(f"{base}/_matrix/client/v3/login", json=body) as response:
            if response.status != 200:
                raise RuntimeError(f"login {name}: {response.status}")
            token = (await response.json())["access_token"]
        latencies.append(time.perf_counter() - started)
        done += 1
        headers = {"Authorization": f"Bearer {token}"}
        async with session.post(f"{base}/_matrix/client/v3/logout", json={}, headers=headers):
            pass
    return done, latencies


async def measure(base: str, users: int, seconds: float, concurrency: int) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        names = [f"bench{i}" for i in range(users)]
        register = [await _register(session, base, name) for name in names]
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        results = await asyncio.gather(
            *(_login_loop(session, base, names, deadline) for _ in range(concurrency))
        )
        elapsed = time.perf_counter() - started
    logins = sum(done for done, _ in results)
    latencies = sorted(x for _, lat in results for x in lat)
    return {
        "registration_median_ms": round(statistics.median(register) * 1000, 1),
        "registration_max_ms": round(max(register) * 1000, 1),
        "logins_per_second": round(logins / elapsed, 1),
        "login_median_ms": round(statistics.median(latencies) * 1000, 1),
        "login_p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--argon2-memory", type=int, help="KiB (server default if unset)")
    parser.add_argument("--argon2-time", type=int, help="passes (server default if unset)")
    args = parser.parse_args()
    extra_env = {}
    if args.argon2_memory:
        extra_env["CONDUWUIT_ARGON2_MEMORY_COST"] = str(args.argon2_memory)
    if args.argon2_time:
        extra_env["CONDUWUIT_ARGON2_TIME_COST"] = str(args.argon2_time)
    with Conduwuit(extra_env=extra_env) as server:
        server.start()
        result = asyncio.run(measure(server.base_url, args.users, args.seconds, args.concurrency))
    print(
        json.dumps(
            {
                "scenario": "accounts",
                "server": "conduwuit",
                "argon2": {
                    "memory_kib": args.argon2_memory or "default",
                    "time": args.argon2_time or "default",
                },
                "concurrency": args.concurrency,
                **result,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
