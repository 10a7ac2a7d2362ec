"""Push-rule evaluation cost per event for a room of N local members (default rules).

Two figures, printed as JSON (not a test):

- ``core``: the pure evaluator (``conduwuit.core.push``) over N users, per event
  kind: what a new event costs once the room context is known;
- ``service``: ``PushEvaluator.evaluate`` over a real room of N joined local
  members on a temp RocksDB (member scan, power levels, per-user rulesets
  included), the figure the notification path will pay per event;
- ``send``: messages per second sent one after the other into a room of
  ``--send-members`` joined local members through the whole event path, with
  push evaluation and notification records on (as served) and off (the
  notifications' persist listener removed), so the difference is what
  notifications cost a send.

Usage: python bench/push_bench.py [--members N] [--rounds R] [--send-members N]
       [--messages M] [--send-only]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conduwuit.config import GlobalConfig, load_config
from conduwuit.core.ids import RoomId, UserId
from conduwuit.core.push import DEFAULT_RULESET, PushEvent, RoomContext
from conduwuit.db import Database, DatabaseOptions
from conduwuit.server import services_over
from conduwuit.service.rooms.actions import CreateRoom

SERVER = "bench.example"
CREATOR = UserId.parse(f"@creator:{SERVER}")


def event_kinds(sender: str, room_id: str, mentioned: str) -> dict[str, dict[str, Any]]:
    base = {"sender": sender, "room_id": room_id, "event_id": "$e", "origin_server_ts": 1}
    text = {"msgtype": "m.text", "body": "Lunch at noon, anyone? The usual place."}
    return {
        "message": {**base, "type": "m.room.message", "content": text},
        "message_mentioning_one": {
            **base,
            "type": "m.room.message",
            "content": {**text, "m.mentions": {"user_ids": [mentioned]}},
        },
        "room_mention": {
            **base,
            "type": "m.room.message",
            "content": {**text, "m.mentions": {"room": True}},
        },
        "encrypted": {**base, "type": "m.room.encrypted", "content": {"ciphertext": "x" * 200}},
        "reaction": {**base, "type": "m.reaction", "content": {}},
    }


def bench_config(path: Path) -> GlobalConfig:
    env = {"CONDUWUIT_SERVER_NAME": SERVER, "CONDUWUIT_DATABASE_PATH": str(path / "db")}
    return load_config(None, env).config


def best_of(rounds: int, run: Callable[[], object]) -> float:
    """The fastest of ``rounds`` runs, in seconds (the least disturbed by neighbours)."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def figures(seconds: float, members: int) -> dict[str, float]:
    return {
        "us_per_event": round(seconds * 1e6, 1),
        "us_per_member": round(seconds * 1e6 / members, 3),
    }


def bench_core(members: int, rounds: int) -> dict[str, Any]:
    users = [f"@user{i}:{SERVER}" for i in range(members)]
    room = RoomContext(member_count=members + 1, sender_power=100)
    out: dict[str, Any] = {}
    for name, event in event_kinds(str(CREATOR), "!room:bench.example", users[7]).items():

        def run(event: dict[str, Any] = event) -> None:
            prepared = PushEvent(event, room).prepare(DEFAULT_RULESET)
            for user in users:
                prepared.for_user(user)

        out[name] = figures(best_of(rounds, run), members)
    return out


async def bench_service(members: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.open(DatabaseOptions(path=Path(tmp) / "db"))
        try:
            services = services_over(bench_config(Path(tmp)), db)
            ops, membership = services.rooms.actions, services.rooms.membership
            room = RoomId.parse(await ops.create_room(CREATOR, CreateRoom(preset="public_chat")))
            started = time.perf_counter()
            for i in range(members):
                await membership.join(UserId.parse(f"@user{i}:{SERVER}"), str(room))
            joins_s = time.perf_counter() - started
            evaluator = services.push.evaluator
            out: dict[str, Any] = {"setup_joins_s": round(joins_s, 1)}
            kinds = event_kinds(str(CREATOR), str(room), f"@user7:{SERVER}")
            for name, template in kinds.items():
                event_id = await ops.send(CREATOR, room, template["type"], template["content"])
                pdu = services.rooms.storage.timeline.get(event_id)
                assert pdu is not None
                found = evaluator.evaluate(pdu, event_id)
                assert len(evaluator.recipients(pdu, event_id)) == members

                def run(pdu: dict[str, Any] = pdu, event_id: str = event_id) -> None:
                    evaluator.evaluate(pdu, event_id)

                seconds = best_of(rounds, run)
                out[name] = {
                    **figures(seconds, members),
                    "notified": sum(a.notify for a in found.values()),
                    "highlighted": sum(a.highlight for a in found.values()),
                }
            return out
        finally:
            db.close()


async def bench_send(members: int, messages: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.open(DatabaseOptions(path=Path(tmp) / "db"))
        try:
            services = services_over(bench_config(Path(tmp)), db)
            ops, membership = services.rooms.actions, services.rooms.membership
            room = RoomId.parse(await ops.create_room(CREATOR, CreateRoom(preset="public_chat")))
            for i in range(members):
                await membership.join(UserId.parse(f"@user{i}:{SERVER}"), str(room))
            persister = services.rooms.storage.pipeline.persister
            stage = services.push.notifications.stage_event
            content = {"msgtype": "m.text", "body": "Lunch at noon, anyone? The usual place."}

            async def rate() -> float:
                started = time.perf_counter()
                for _ in range(messages):
                    await ops.send(CREATOR, room, "m.room.message", content)
                return messages / (time.perf_counter() - started)

            # Alternate on/off runs and keep the best of each: the machine is shared.
            on: list[float] = []
            off: list[float] = []
            for _ in range(3):
                on.append(await rate())
                persister.listeners.remove(stage)
                off.append(await rate())
                persister.listeners.append(stage)
            notified = services.push.notifications.total_unread(f"@user0:{SERVER}")
            return {
                "members": members,
                "messages": messages,
                "with_push_msgs_per_s": round(max(on), 1),
                "without_push_msgs_per_s": round(max(off), 1),
                "push_ms_per_message": round(1000 / max(on) - 1000 / max(off), 2),
                "unread_of_one_member": notified,
            }
        finally:
            db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--send-members", type=int, default=100)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--send-only", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    if not args.send_only:
        result["members"] = args.members
        result["core"] = bench_core(args.members, args.rounds)
        result["service"] = asyncio.run(bench_service(args.members, args.rounds))
    result["send"] = asyncio.run(bench_send(args.send_members, args.messages))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
