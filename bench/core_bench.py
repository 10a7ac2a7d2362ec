"""Core benchmarks, printed as JSON (not a test).

- state resolution of two forks of a room with 10,000 joined members, where each
  fork has power-level changes, bans, kicks, leaves and new joins;
- events hashed + signed per second, and event IDs computed per second.

Usage: python bench/core_bench.py [--members N] [--fork-events N] [--sign-seconds S]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Any

from conduwuit.core import room_versions as rv
from conduwuit.core import state_res
from conduwuit.core.auth_rules import auth_types_for_event
from conduwuit.core.event_hashing import compute_event_id
from conduwuit.core.event_signing import hash_and_sign_event
from conduwuit.core.events import Event
from conduwuit.core.power_levels import StateKey
from conduwuit.core.signing import Keypair

ADMIN = "@admin:example.org"


class BenchRoom:
    def __init__(self, version: rv.RoomVersion) -> None:
        self.version = version
        self.events: dict[str, Event] = {}
        self.state: dict[StateKey, str] = {}
        self.ts = 0
        self.counter = 0
        self.room_id = "!create" if version.room_id_from_create_event else "!room:example.org"
        self.last = ""
        content: dict[str, Any] = {"room_version": version.identifier}
        if not version.implicit_room_creator:
            content["creator"] = ADMIN
        self.send("m.room.create", "", ADMIN, content, event_id="$create")
        self.send("m.room.member", ADMIN, ADMIN, {"membership": "join"})
        users = {} if version.privileged_creators else {ADMIN: 100}
        self.send("m.room.power_levels", "", ADMIN, {"users": users})
        self.send("m.room.join_rules", "", ADMIN, {"join_rule": "public"})

    def send(
        self,
        type_: str,
        state_key: str | None,
        sender: str,
        content: dict[str, Any],
        event_id: str | None = None,
    ) -> str:
        self.ts += 1
        self.counter += 1
        pdu: dict[str, Any] = {
            "type": type_,
            "sender": sender,
            "content": content,
            "origin_server_ts": self.ts,
            "depth": self.ts,
            "prev_events": [self.last] if self.last else [],
        }
        if not (self.version.room_id_from_create_event and type_ == "m.room.create"):
            pdu["room_id"] = self.room_id
        if state_key is not None:
            pdu["state_key"] = state_key
        pdu["auth_events"] = [
            self.state[k] for k in auth_types_for_event(pdu, self.version) if k in self.state
        ]
        event_id = event_id or f"$ev{self.counter}"
        self.events[event_id] = Event(pdu, self.version, event_id=event_id)
        self.last = event_id
        if state_key is not None:
            self.state[(type_, state_key)] = event_id
        return event_id


def bench_state_res(version: rv.RoomVersion, members: int, fork_events: int) -> dict[str, Any]:
    room = BenchRoom(version)
    users = [f"@user{i}:server{i % 50}.example" for i in range(members)]
    for user in users:
        room.send("m.room.member", user, user, {"membership": "join"})
    mods = users[:20]
    room.send(
        "m.room.power_levels",
        "",
        ADMIN,
        {
            "users": {
                **({} if version.privileged_creators else {ADMIN: 100}),
                **dict.fromkeys(mods, 50),
            }
        },
    )
    base_state, base_last, base_ts = dict(room.state), room.last, room.ts

    forks = []
    for fork in range(2):
        room.state, room.last, room.ts = dict(base_state), base_last, base_ts + fork
        for i in range(fork_events):
            kind = i % 5
            target = users[100 + (fork * fork_events + i) % (members - 100)]
            mod = mods[(i + fork) % len(mods)]
            if kind == 0:
                room.send("m.room.member", target, mod, {"membership": "ban"})
            elif kind == 1:
                room.send("m.room.member", target, mod, {"membership": "leave"})
            elif kind == 2:
                room.send("m.room.member", target, target, {"membership": "leave"})
            elif kind == 3:
                new = f"@new{fork}_{i}:fork{fork}.example"
                room.send("m.room.member", new, new, {"membership": "join"})
            else:
                room.send("m.room.topic", "", mod, {"topic": f"fork {fork} #{i}"})
        pl_users = {
            **({} if version.privileged_creators else {ADMIN: 100}),
            **dict.fromkeys(mods, 50),
            mods[fork]: 0,
        }
        room.send("m.room.power_levels", "", ADMIN, {"users": pl_users})
        forks.append(dict(room.state))

    fetch = room.events.get
    started = time.perf_counter()
    resolved = state_res.resolve(version, forks, fetch)
    elapsed = time.perf_counter() - started
    conflicted = sum(1 for k in set(forks[0]) | set(forks[1]) if forks[0].get(k) != forks[1].get(k))
    return {
        "room_version": version.identifier,
        "members": members,
        "state_keys": len(resolved),
        "conflicted_keys": conflicted,
        "bans_in_result": sum(
            1
            for k, e in resolved.items()
            if k[0] == "m.room.member" and fetch(e).membership == "ban"  # type: ignore[union-attr]
        ),
        "events_in_room": len(room.events),
        "seconds": round(elapsed, 4),
    }


def bench_signing(seconds: float) -> dict[str, Any]:
    version = rv.V11
    key = Keypair.generate("bench")
    template = {
        "type": "m.room.message",
        "room_id": "!room:example.org",
        "sender": "@alice:example.org",
        "content": {"msgtype": "m.text", "body": "Hello, world! " * 8},
        "origin_server_ts": 1_700_000_000_000,
        "depth": 42,
        "prev_events": ["$" + "a" * 43],
        "auth_events": ["$" + "b" * 43, "$" + "c" * 43, "$" + "d" * 43],
    }
    count = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        event = dict(template, depth=count)
        signed = hash_and_sign_event(event, "example.org", key, version)
        compute_event_id(signed, version)
        count += 1
    elapsed = time.perf_counter() - started
    return {
        "room_version": version.identifier,
        "events": count,
        "events_per_second": round(count / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--fork-events", type=int, default=200)
    parser.add_argument("--sign-seconds", type=float, default=2.0)
    args = parser.parse_args()
    result = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "state_res": [
            bench_state_res(v, args.members, args.fork_events) for v in (rv.V11, rv.V12, rv.V1)
        ],
        "hash_sign_and_id": bench_signing(args.sign_seconds),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
