"""Rooms across two servers: ours A→B side by side with Synapse S1→S2.

    python -m bench.federation_rooms [--messages 100] [--batches 20] [--members 1000]
                                     [--state-events 10000] [--edus 500] [--typing 100]
                                     [--receipts 200] [--presence 200] [--no-synapse]

Two of our server processes (A on ``127.0.0.2``, B on ``127.0.0.3``) and two
Synapses (S1 ``127.0.0.5``, S2 ``127.0.0.6``) federate over loopback TLS with one
throwaway CA (``tests/kit/federation.py``). Every figure is taken the same way for
the pair ``home → away`` = A→B and S1→S2:

- ``latency``: a room on home joined by a user of away; ``--messages`` messages sent
  one after another on home, each timed until away's ``/sync`` (long-polling)
  shows it: p50/p95.
- ``inbound``: a scripted remote R (``127.0.0.9``, its key document served here)
  joins a room on away with ``make_join``/``send_join``, then pushes ``--batches``
  transactions of 50 signed messages (built before the clock starts) through
  away's ``PUT /send``; each transaction waits until away's own member can read the
  last event of the one before through the client API, and the clock stops when it
  reads the very last (Synapse answers ``/send`` before it processes the PDUs, so
  the answer alone would flatter it, and it prunes a room's backlog of received
  PDUs at 100). R serves ``/get_missing_events`` and ``/event`` from its events.
  PDUs/s.
- ``join``: a room on home with ``--members`` users and ``--state-events`` more
  state events (``org.bench.state``); a user of away joins it: the seconds until
  ``/join`` answers, and until away's ``/joined_members`` lists everyone (Synapse
  joins with partial state, members omitted, and completes them in the background;
  that endpoint waits for the full state).
- ``edu``: ``--edus`` to-device messages (one ``m.direct_to_device`` EDU each) from
  a user on home to a device on away, 8 requests at a time, until away's ``/sync``
  has delivered them all: EDUs/s.
- ``typing``, ``receipts``, ``presence``: ``--typing`` users of home starting to
  type, ``--receipts`` read receipts and ``--presence`` status messages of 8 users
  of home, in a room away's user is in, until away's ``/sync`` has shown the last
  of each: updates/s and the latency of the last (``bench/federation_edus.py``
  says how coalescing notices are told apart).

Synapse runs from this environment (the ``crosscheck`` extra) as in
``tests/kit/synapse_peer.py``; ratios are ours / Synapse's (above 1 is better for
rates, below 1 for times). Passwords are hashed cheaply on all four servers
(throwaway accounts). Every loop is bounded in count and time. Prints one JSON
object.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from bench import federation_edus
from bench.client import CS, Client, MatrixError, q
from bench.federation import MemoryMap, ms, origin_client, serve_origin_keys
from bench.federation_pair import (
    ROOM_VERSION,
    SETUP_CONCURRENCY,
    WAIT_S,
    Homeserver,
    Syncer,
    account,
    bounded,
    create_room,
    has_body,
    join_via,
)
from conduwuit.core.event_hashing import compute_event_id
from conduwuit.core.event_signing import hash_and_sign_event
from conduwuit.core.room_versions import RoomVersion
from conduwuit.core.room_versions import get as get_room_version
from conduwuit.service.federation.client import FederationClient
from conduwuit.service.server_keys import ServerKeys
from tests.kit.federation import FederationNet, federation
from tests.kit.server import ServerProcess, free_port
from tests.kit.synapse_peer import SynapsePeer, synapse_available, synapse_version

REMOTE_IP = "127.0.0.9"
#: Cheap password hashing for our servers' throwaway accounts (Synapse: bcrypt_rounds 4).
CHEAP_HASHING = {"CONDUWUIT_ARGON2_TIME_COST": "1", "CONDUWUIT_ARGON2_MEMORY_COST": "64"}
_txn = itertools.count()
EPHEMERAL = tuple(federation_edus.EPHEMERAL)


@dataclass(frozen=True)
class Sizes:
    messages: int = 100
    batches: int = 20
    members: int = 1000
    state_events: int = 10_000
    edus: int = 500
    typing: int = 100
    receipts: int = 200
    presence: int = 200


# -- latency --------------------------------------------------------------------------
async def latency(
    session: aiohttp.ClientSession, home: Homeserver, away: Homeserver, sizes: Sizes
) -> tuple[dict[str, Any], Client, Client]:
    sender, receiver = await account(session, home, "alice"), await account(session, away, "bob")
    room = await create_room(sender)
    await join_via(receiver, room, home.server_name)
    syncer = Syncer(receiver)
    await syncer.start()
    # Warm: the first message after the join opens connections both ways.
    await sender.send_text(room, "warm")
    await syncer.until(has_body(room, "warm"))
    times: list[float] = []
    for i in range(sizes.messages):
        started = time.perf_counter()
        await sender.send_text(room, f"m{i}")
        await syncer.until(has_body(room, f"m{i}"))
        times.append(time.perf_counter() - started)
    figures = {"p50_ms": ms(times, 0.5), "p95_ms": ms(times, 0.95), "messages": len(times)}
    return figures, sender, receiver


# -- inbound /send --------------------------------------------------------------------
@dataclass
class Remote:
    """R: a scripted server that signs its own events and transactions."""

    keys: ServerKeys
    client: FederationClient
    #: Every event R signed, served back on ``/get_missing_events`` and ``/event``.
    events: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def server_name(self) -> str:
        return self.keys.server_name

    def sign(self, pdu: dict[str, Any], rv: RoomVersion) -> tuple[str, dict[str, Any]]:
        signed = hash_and_sign_event(pdu, self.server_name, self.keys.keypair, rv)
        event_id = compute_event_id(signed, rv)
        self.events[event_id] = signed
        return event_id, signed

    async def join(self, target: str, room: str, user: str) -> tuple[RoomVersion, dict[str, Any]]:
        """make_join + send_join (v2) of ``user`` to ``room`` on ``target``."""
        made = await self.client.get(
            target,
            f"/_matrix/federation/v1/make_join/{quote(room, safe='')}/{quote(user, safe='')}",
            query={"ver": ROOM_VERSION},
        )
        rv = get_room_version(made.get("room_version", ROOM_VERSION))
        assert rv is not None
        template = dict(made["event"], origin_server_ts=int(time.time() * 1000))
        event_id, join = self.sign(template, rv)
        answer = await self.client.request(
            target,
            "PUT",
            f"/_matrix/federation/v2/send_join/{quote(room, safe='')}/{quote(event_id, safe='')}",
            content=join,
        )
        state = {(e["type"], e.get("state_key")): e for e in answer["state"]}
        auth = [
            compute_event_id(state[(t, "")], rv) for t in ("m.room.create", "m.room.power_levels")
        ]
        return rv, {"auth_events": [*auth, event_id], "prev": event_id, "depth": join["depth"]}

    def messages(
        self, room: str, user: str, rv: RoomVersion, start: dict[str, Any], count: int
    ) -> list[tuple[str, dict[str, Any]]]:
        """A chain of ``count`` signed messages after the join."""
        prev, depth, chain = start["prev"], int(start["depth"]), []
        for i in range(count):
            depth += 1
            pdu = {
                "type": "m.room.message",
                "room_id": room,
                "sender": user,
                "content": {"msgtype": "m.text", "body": f"r{i}"},
                "origin_server_ts": int(time.time() * 1000),
                "prev_events": [prev],
                "auth_events": start["auth_events"],
                "depth": depth,
            }
            prev, signed = self.sign(pdu, rv)
            chain.append((prev, signed))
        return chain


async def inbound(
    session: aiohttp.ClientSession, remote: Remote, target: Homeserver, batches: int
) -> dict[str, Any]:
    local = await account(session, target, "carol")
    room = await create_room(local)
    user = f"@r:{remote.server_name}"
    rv, start = await remote.join(target.server_name, room, user)
    chain = remote.messages(room, user, rv, start, 50 * batches)
    refused: dict[str, Any] = {}
    started = time.perf_counter()
    for b in range(batches):
        if b:
            # Synapse prunes a room's queue of received PDUs at 100 (keeping the
            # newest, fetching the gap later): at most one batch is outstanding.
            await visible(local, room, chain[50 * b - 1][0])
        pdus = [pdu for _, pdu in chain[50 * b : 50 * (b + 1)]]
        answer = await remote.client.request(
            target.server_name,
            "PUT",
            f"/_matrix/federation/v1/send/bench{next(_txn)}.{time.monotonic_ns()}",
            content={
                "origin": remote.server_name,
                "origin_server_ts": int(time.time() * 1000),
                "pdus": pdus,
                "edus": [],
            },
        )
        refused.update({k: v for k, v in answer.get("pdus", {}).items() if v.get("error")})
    await visible(local, room, chain[-1][0])
    elapsed = time.perf_counter() - started
    if refused:
        raise AssertionError(f"{len(refused)} PDUs refused, e.g. {next(iter(refused.items()))}")
    return {
        "per_s": round(len(chain) / elapsed, 1),
        "pdus": len(chain),
        "seconds": round(elapsed, 2),
    }


async def visible(client: Client, room: str, event_id: str) -> None:
    """Wait until ``client`` can read ``event_id`` in ``room`` (at most WAIT_S)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            await client.request("GET", f"{CS}/rooms/{q(room)}/event/{q(event_id)}", "event")
            return
        except MatrixError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.02)


# -- joining a large room -------------------------------------------------------------
async def large_join(
    session: aiohttp.ClientSession,
    home: Homeserver,
    away: Homeserver,
    host: Client,
    sizes: Sizes,
) -> dict[str, Any]:
    room = await create_room(host)
    started = time.perf_counter()

    async def member(i: int) -> None:
        client = await account(session, home, f"m{i}")
        await client.join(room)

    async def state(i: int) -> None:
        await host.request(
            "PUT",
            f"{CS}/rooms/{q(room)}/state/org.bench.state/s{i}",
            "state",
            body={"i": i},
        )

    await bounded(sizes.members, SETUP_CONCURRENCY, member)
    members_s = time.perf_counter() - started
    await bounded(sizes.state_events, SETUP_CONCURRENCY, state)
    state_s = time.perf_counter() - started - members_s
    joiner = await account(session, away, "dave")
    started = time.perf_counter()
    await join_via(joiner, room, home.server_name)
    joined = time.perf_counter() - started
    expected = sizes.members + 2
    deadline = time.monotonic() + WAIT_S
    while True:
        reply = await joiner.request(
            "GET", f"{CS}/rooms/{q(room)}/joined_members", "joined_members", wait_s=WAIT_S
        )
        if len(reply.get("joined", {})) >= expected:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(reply.get('joined', {}))}/{expected} members after join")
        await asyncio.sleep(0.1)
    return {
        "join_s": round(joined, 2),
        "full_state_s": round(time.perf_counter() - started, 2),
        "members": sizes.members,
        "state_events": sizes.state_events,
        # filling the room on home: registrations + joins, then the state events
        "members_setup_s": round(members_s, 1),
        "state_setup_s": round(state_s, 1),
    }


# -- the pairs ------------------------------------------------------------------------
async def pair(
    session: aiohttp.ClientSession,
    remote: Remote,
    home: Homeserver,
    away: Homeserver,
    sizes: Sizes,
    log: Callable[[str], None],
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    figures["latency"], sender, receiver = await latency(session, home, away, sizes)
    log(f"latency {figures['latency']}")
    figures["edu"] = await federation_edus.to_device(sender, receiver, sizes.edus)
    log(f"edu {figures['edu']}")
    users = max(sizes.typing, SETUP_CONCURRENCY)
    room = await federation_edus.edu_room(session, home, away, sender, receiver, users)
    for name in EPHEMERAL:
        figures[name] = await federation_edus.EPHEMERAL[name](room, getattr(sizes, name))
        log(f"{name} {figures[name]}")
    figures["inbound"] = await inbound(session, remote, away, sizes.batches)
    log(f"inbound {figures['inbound']}")
    figures["join"] = await large_join(session, home, away, sender, sizes)
    log(f"join {figures['join']}")
    return figures


def ratios(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, float]:
    def ratio(scenario: str, name: str) -> float:
        return round(float(ours[scenario][name]) / float(theirs[scenario][name]), 2)

    return {
        "latency_p50": ratio("latency", "p50_ms"),
        "latency_p95": ratio("latency", "p95_ms"),
        "inbound_pdus_per_s": ratio("inbound", "per_s"),
        "join_s": ratio("join", "join_s"),
        "join_full_state_s": ratio("join", "full_state_s"),
        "edu_per_s": ratio("edu", "per_s"),
        **{f"{name}_per_s": ratio(name, "per_s") for name in EPHEMERAL},
        **{f"{name}_last_ms": ratio(name, "last_ms") for name in EPHEMERAL},
    }


async def measure(
    sizes: Sizes,
    with_synapse: bool,
    workdir: Path,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    with federation(workdir) as net:
        a, b = net.server(2, **CHEAP_HASHING), net.server(3, **CHEAP_HASHING)
        for server in (a, b):
            server.start(wait=False)
        synapses = [net.synapse(5), net.synapse(6)] if with_synapse else []
        await asyncio.gather(*(asyncio.to_thread(s.start) for s in synapses))
        for server in (a, b):
            server.wait_ready(60)
        return await _measure_on(net, a, b, synapses, sizes, log)


async def _measure_on(
    net: FederationNet,
    a: ServerProcess,
    b: ServerProcess,
    synapses: list[SynapsePeer],
    sizes: Sizes,
    log: Callable[[str], None],
) -> dict[str, Any]:
    port = free_port()
    keys = ServerKeys(f"{REMOTE_IP}:{port}", MemoryMap())
    remote = Remote(keys, origin_client(keys, net))
    runner = await serve_origin_keys(keys, net, port, REMOTE_IP, remote.events)
    figures: dict[str, Any] = {"sizes": sizes.__dict__}
    try:
        async with aiohttp.ClientSession() as session:
            log("conduwuit A→B")
            figures["conduwuit"] = await pair(session, remote, a, b, sizes, log)
            if synapses:
                log("synapse S1→S2")
                figures["synapse"] = await pair(
                    session, remote, synapses[0], synapses[1], sizes, log
                )
                figures["synapse_version"] = synapse_version()
                figures["ratio"] = ratios(figures["conduwuit"], figures["synapse"])
    finally:
        await remote.client.close()
        await runner.cleanup()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    defaults = Sizes()
    parser.add_argument("--messages", type=int, default=defaults.messages)
    parser.add_argument("--batches", type=int, default=defaults.batches)
    parser.add_argument("--members", type=int, default=defaults.members)
    parser.add_argument("--state-events", type=int, default=defaults.state_events)
    parser.add_argument("--edus", type=int, default=defaults.edus)
    for name in EPHEMERAL:
        parser.add_argument(f"--{name}", type=int, default=getattr(defaults, name))
    parser.add_argument("--no-synapse", action="store_true")
    args = parser.parse_args()
    sizes = Sizes(**{name: getattr(args, name) for name in Sizes.__dataclass_fields__})
    limits = {"messages": 10_000, "batches": 1_000, "members": 20_000, "state_events": 100_000}
    edu_limits = {"edus": 100_000, "typing": 2_000, "receipts": 10_000, "presence": 10_000}
    for name, limit in {**limits, **edu_limits}.items():
        if not 1 <= getattr(sizes, name) <= limit:
            parser.error(f"--{name.replace('_', '-')}: 1 to {limit}")
    with_synapse = not args.no_synapse and synapse_available()

    def log(line: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True, file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="bench-federation-rooms-") as workdir:
        figures = asyncio.run(measure(sizes, with_synapse, Path(workdir), log))
    print(json.dumps({"scenario": "federation_rooms", **figures}, indent=2))


if __name__ == "__main__":
    main()
