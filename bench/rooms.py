"""Room creation latency, message send throughput with concurrent senders, and
``/messages`` latency in a room with a long history, against a fresh server process.

    python -m bench.rooms [--rooms 20] [--senders 8] [--seconds 5] [--history 100000]

The history room is filled over HTTP by the same concurrent senders, so a full
100,000-event run takes a few minutes. Prints one JSON object.
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
API = "/_matrix/client/v3"


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


class Client:
    def __init__(self, session: aiohttp.ClientSession, base: str, token: str = "") -> None:
        self.session = session
        self.base = base
        self.token = token
        self.txn = 0

    async def call(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.session.request(
            method, f"{self.base}{API}{path}", json=body, headers=headers, params=params or None
        ) as response:
            reply = await response.json()
            if response.status != 200:
                raise RuntimeError(f"{method} {path}: {response.status} {reply}")
            return reply

    async def send(self, room: str, body: str) -> float:
        self.txn += 1
        started = time.perf_counter()
        await self.call(
            "PUT",
            f"/rooms/{room}/send/m.room.message/b{self.txn}",
            {"msgtype": "m.text", "body": body},
        )
        return time.perf_counter() - started


async def _user(session: aiohttp.ClientSession, base: str, name: str) -> Client:
    anonymous = Client(session, base)
    body = {"username": name, "password": PASSWORD, "auth": {"type": "m.login.dummy"}}
    reply = await anonymous.call("POST", "/register", body)
    return Client(session, base, reply["access_token"])


async def _send_for(client: Client, room: str, deadline: float) -> list[float]:
    latencies = []
    while time.perf_counter() < deadline:
        latencies.append(await client.send(room, "hello"))
    return latencies


async def _fill(client: Client, room: str, count: int) -> None:
    for i in range(count):
        await client.send(room, f"history {i}")


async def measure(
    base: str, rooms: int, senders: int, seconds: float, history: int
) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        users = [await _user(session, base, f"bench{i}") for i in range(senders)]
        owner = users[0]
        create = []
        for _ in range(rooms):
            started = time.perf_counter()
            await owner.call("POST", "/createRoom", {"preset": "public_chat", "name": "bench"})
            create.append(time.perf_counter() - started)

        room = (await owner.call("POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
        for user in users[1:]:
            await user.call("POST", f"/rooms/{room}/join", {})
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        results = await asyncio.gather(*(_send_for(u, room, deadline) for u in users))
        elapsed = time.perf_counter() - started
        sends = [x for r in results for x in r]

        history_room = (await owner.call("POST", "/createRoom", {}))["room_id"]
        started = time.perf_counter()
        per_sender = history // senders
        # One user, several connections: txn IDs stay unique through one counter.
        await asyncio.gather(*(_fill(owner, history_room, per_sender) for _ in range(senders)))
        fill_seconds = time.perf_counter() - started

        latest, deep = [], []
        token = None
        for _ in range(20):
            started = time.perf_counter()
            page = await owner.call("GET", f"/rooms/{history_room}/messages", dir="b", limit="50")
            latest.append(time.perf_counter() - started)
            token = page.get("end")
        # Walk back a long way, then time pages from deep in the history.
        for _ in range(max(0, history // 2000)):
            page = await owner.call(
                "GET",
                f"/rooms/{history_room}/messages",
                dir="b",
                limit="1000",
                **({"from": token} if token else {}),
            )
            token = page.get("end", token)
        for _ in range(20):
            started = time.perf_counter()
            await owner.call(
                "GET",
                f"/rooms/{history_room}/messages",
                dir="b",
                limit="50",
                **({"from": token} if token else {}),
            )
            deep.append(time.perf_counter() - started)
    return {
        "create_room_median_ms": _ms(statistics.median(create)),
        "create_room_p95_ms": _ms(_p95(create)),
        "senders": senders,
        "messages_per_second": round(len(sends) / elapsed, 1),
        "send_median_ms": _ms(statistics.median(sends)),
        "send_p95_ms": _ms(_p95(sends)),
        "history_events": per_sender * senders,
        "history_fill_events_per_second": round(per_sender * senders / fill_seconds, 1),
        "messages_latest_median_ms": _ms(statistics.median(latest)),
        "messages_deep_median_ms": _ms(statistics.median(deep)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rooms", type=int, default=20)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--history", type=int, default=100_000)
    args = parser.parse_args()
    # Registration is not what is measured here.
    extra_env = {"CONDUWUIT_ARGON2_TIME_COST": "1", "CONDUWUIT_ARGON2_MEMORY_COST": "64"}
    with Conduwuit(extra_env=extra_env) as server:
        server.start()
        result = asyncio.run(
            measure(server.base_url, args.rooms, args.senders, args.seconds, args.history)
        )
    print(json.dumps({"scenario": "rooms", "server": "conduwuit", **result}, indent=2))


if __name__ == "__main__":
    main()
