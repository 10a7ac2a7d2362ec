"""Federation transport: signing, X-Matrix checks, key fetches, pooled requests.

    python -m bench.federation [--seconds 2] [--requests 2000] [--concurrency 16]
                               [--key-fetches 200] [--no-synapse]

In this process, for ``--seconds`` each:

- ``sign``: X-Matrix authorizations of a signed profile query (``sign_request``);
- ``verify``: the receiving side's pure work, parse the header and verify the
  signature (``parse_header`` + ``verify_request``);
- ``authenticate``: ``RequestAuth.authenticate`` with the origin's key cached (the
  whole inbound check of a request, key look-up included).

Then over loopback TLS with a test CA (``tests/kit/federation.py``), from this
process as origin ``127.0.0.2:PORT`` (its key document served by a small in-process
HTTPS server, so peers can verify its requests) through the pooled
``FederationClient``:

- ``key_fetch``: our server process B's keys fetched by ``RemoteKeys``: the first
  fetch (new TLS connection), then ``--key-fetches`` cold fetches (empty key cache,
  pooled connection), and the same number of cached look-ups;
- ``profile``: ``--requests`` signed ``/query/profile`` requests to B,
  ``--concurrency`` at a time, each answer checked; B verifies every signature;
- ``synapse_profile``: the same against Synapse (the ``crosscheck`` extra), for the
  ratio; left out with ``--no-synapse`` or without Synapse.

Every loop is bounded in count and time. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from conduwuit.core.x_matrix import parse_header, sign_request, verify_request
from conduwuit.service.clock import system_clock
from conduwuit.service.federation.auth import RequestAuth
from conduwuit.service.federation.client import ClientSettings, FederationClient
from conduwuit.service.federation.keys import KeySettings, RemoteKeys
from conduwuit.service.ip_denylist import IpDenylist
from conduwuit.service.server_keys import ServerKeys
from tests.kit.federation import FederationNet, call, federation, register
from tests.kit.server import free_port
from tests.kit.synapse_peer import synapse_available, synapse_version
from tests.service.federation.netkit import ip_literal_resolver

ORIGIN_IP = "127.0.0.2"
#: Upper bound on iterations of any timed loop, whatever ``--seconds`` says.
MAX_ITERATIONS = 5_000_000


class MemoryMap:
    """A key-value map in memory (the ``get``/``put`` the key services need)."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self.data[key] = value


def per_second(seconds: float, step: Callable[[int], None]) -> float:
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline and count < MAX_ITERATIONS:
        step(count)
        count += 1
    return round(count / (time.perf_counter() - started), 1)


async def async_per_second(seconds: float, step: Callable[[int], Awaitable[Any]]) -> float:
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline and count < MAX_ITERATIONS:
        await step(count)
        count += 1
    return round(count / (time.perf_counter() - started), 1)


def ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)


async def micro(seconds: float) -> dict[str, Any]:
    """Signing and checking X-Matrix authorizations, in this process."""
    origin = ServerKeys("origin.test", MemoryMap())
    destination = "destination.test"
    uri = "/_matrix/federation/v1/query/profile?user_id=%40alice%3Adestination.test"
    keypair = origin.keypair
    signs = per_second(
        seconds, lambda i: sign_request(keypair, "GET", uri, origin.server_name, destination)
    )
    header = sign_request(keypair, "GET", uri, origin.server_name, destination).header()

    def verify(_: int) -> None:
        verify_request(parse_header(header), keypair.public_key, "GET", uri, destination)

    verifies = per_second(seconds, verify)
    # The inbound check with the origin's key already cached by RemoteKeys.
    receiver = ServerKeys(destination, MemoryMap())
    keys = RemoteKeys(receiver, MemoryMap(), _Serve(origin), KeySettings(), system_clock)
    await keys.fetch(origin.server_name, system_clock())
    auth = RequestAuth(
        destination, keys, system_clock, allow_federation=True, forbidden_servers=frozenset()
    )

    async def authenticate(_: int) -> None:
        assert await auth.authenticate("GET", uri, header) == origin.server_name

    authenticates = await async_per_second(seconds, authenticate)
    return {"sign_per_s": signs, "verify_per_s": verifies, "authenticate_per_s": authenticates}


class _Serve:
    """A fetcher that answers every key request with ``origin``'s key document."""

    def __init__(self, origin: ServerKeys) -> None:
        self.origin = origin

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        return self.origin.key_document()


async def serve_origin_keys(
    origin: ServerKeys,
    net: FederationNet,
    port: int,
    host: str = ORIGIN_IP,
    events: Mapping[str, dict[str, Any]] | None = None,
) -> web.AppRunner:
    """HTTPS on host:port answering ``/_matrix/key/v2/server`` for ``origin``, and
    accepting (and dropping) the transactions peers send once it is in their rooms.
    With ``events`` (event ID -> PDU of ``origin``), ``/get_missing_events`` and
    ``/event/{eventId}`` are answered from them, as a real server would (Synapse may
    take a transaction's PDUs out of order and ask for the ones it has not seen)."""
    known: Mapping[str, dict[str, Any]] = events if events is not None else {}

    async def key_document(_: web.Request) -> web.Response:
        return web.json_response(origin.key_document())

    async def transaction(_: web.Request) -> web.Response:
        return web.json_response({"pdus": {}})

    async def missing_events(request: web.Request) -> web.Response:
        body = await request.json()
        earliest, limit = set(body.get("earliest_events", [])), int(body.get("limit", 10))
        found: dict[str, dict[str, Any]] = {}
        frontier = list(body.get("latest_events", []))
        while frontier and len(found) < limit:
            for prev in known.get(frontier.pop(0), {}).get("prev_events", []):
                if prev not in earliest and prev in known and prev not in found:
                    found[prev] = known[prev]
                    frontier.append(prev)
        ordered = sorted(found.values(), key=lambda pdu: int(pdu["depth"]))[:limit]
        return web.json_response({"events": ordered})

    async def event(request: web.Request) -> web.Response:
        pdu = known.get(request.match_info["event_id"])
        if pdu is None:
            return web.json_response({"errcode": "M_NOT_FOUND"}, status=404)
        answer = {"origin": origin.server_name, "origin_server_ts": 0, "pdus": [pdu]}
        return web.json_response(answer)

    app = web.Application()
    app.router.add_get("/_matrix/key/v2/server", key_document)
    app.router.add_put("/_matrix/federation/v1/send/{txn}", transaction)
    app.router.add_post("/_matrix/federation/v1/get_missing_events/{room}", missing_events)
    app.router.add_get("/_matrix/federation/v1/event/{event_id}", event)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    net.ca.issue_cert(host).configure_cert(context)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, ssl_context=context).start()
    return runner


def origin_client(origin: ServerKeys, net: FederationNet) -> FederationClient:
    """A pooled federation client signing as ``origin`` and trusting the net's CA."""
    return FederationClient(
        origin.server_name,
        lambda: origin.keypair,
        ip_literal_resolver(system_clock),
        IpDenylist([]),
        ClientSettings(ca_file=net.ca_file, conn_timeout_s=5, timeout_s=30),
        system_clock,
    )


async def key_fetches(
    origin: ServerKeys, client: FederationClient, peer: str, count: int, seconds: float
) -> dict[str, Any]:
    def remote_keys() -> RemoteKeys:
        return RemoteKeys(origin, MemoryMap(), client, KeySettings(), system_clock)

    [key_id] = (await client.get(peer, "/_matrix/key/v2/server"))["verify_keys"]
    await client.close()  # the first fetch below opens a new TLS connection
    warm = remote_keys()
    started = time.perf_counter()
    assert await warm.key(peer, key_id) is not None
    first = time.perf_counter() - started
    cold: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(cold) < count and time.perf_counter() < deadline:
        keys = remote_keys()
        started = time.perf_counter()
        assert await keys.key(peer, key_id) is not None
        cold.append(time.perf_counter() - started)
    cached: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(cached) < count and time.perf_counter() < deadline:
        started = time.perf_counter()
        assert await warm.key(peer, key_id) is not None
        cached.append(time.perf_counter() - started)
    return {
        "key_fetch_first_ms": round(first * 1000, 2),
        "key_fetch_cold_p50_ms": ms(cold, 0.5),
        "key_fetch_cold_p95_ms": ms(cold, 0.95),
        "key_lookup_cached_p50_ms": ms(cached, 0.5),
        "key_fetches": len(cold),
    }


async def profile_queries(
    client: FederationClient,
    peer: str,
    user_id: str,
    displayname: str,
    requests: int,
    concurrency: int,
    seconds: float,
) -> dict[str, Any]:
    """``requests`` signed profile queries to ``peer`` (stopping at ``seconds``)."""
    path = "/_matrix/federation/v1/query/profile"
    query = {"user_id": user_id}
    # Warm: the peer fetches our key once, the pool opens its connections.
    for _ in range(concurrency):
        assert (await client.get(peer, path, query=query))["displayname"] == displayname
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < requests and time.monotonic() < deadline:
            next_index += 1
            started = time.perf_counter()
            answer = await client.get(peer, path, query=query)
            latencies.append(time.perf_counter() - started)
            if answer.get("displayname") != displayname:
                raise AssertionError(f"{peer} answered {answer}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": ms(latencies, 0.5),
        "p95_ms": ms(latencies, 0.95),
        "requests": len(latencies),
    }


def set_displayname(peer: Any, user_id: str, token: str, name: str) -> None:
    status, answer = call(
        peer,
        "PUT",
        f"/_matrix/client/v3/profile/{quote(user_id)}/displayname",
        {"displayname": name},
        token=token,
    )
    assert status == 200, answer


async def measure(
    seconds: float,
    requests: int,
    concurrency: int,
    key_fetches_count: int,
    with_synapse: bool,
    workdir: Path,
) -> dict[str, Any]:
    figures: dict[str, Any] = await micro(seconds)
    with federation(workdir) as net:
        peer = net.server(3)
        synapse = net.synapse(5) if with_synapse else None
        peer.start(wait=False)
        if synapse is not None:
            synapse.start()
        peer.wait_ready(60)
        port = free_port()
        origin = ServerKeys(f"{ORIGIN_IP}:{port}", MemoryMap())
        runner = await serve_origin_keys(origin, net, port)
        client = origin_client(origin, net)
        try:
            figures.update(
                await key_fetches(origin, client, peer.server_name, key_fetches_count, seconds)
            )
            bob, token = register(peer, "bob")
            set_displayname(peer, bob, token, "Bob")
            ours = await profile_queries(
                client, peer.server_name, bob, "Bob", requests, concurrency, 6 * seconds + 10
            )
            figures.update({f"profile_{k}": v for k, v in ours.items()})
            if synapse is not None:
                alice, token = synapse.register("alice")
                set_displayname(synapse, alice, token, "Alice")
                theirs = await profile_queries(
                    client,
                    synapse.server_name,
                    alice,
                    "Alice",
                    requests,
                    concurrency,
                    6 * seconds + 10,
                )
                figures.update({f"synapse_profile_{k}": v for k, v in theirs.items()})
                figures["synapse_version"] = synapse_version()
                figures["profile_per_s_ratio"] = round(ours["per_s"] / theirs["per_s"], 2)
        finally:
            await client.close()
            await runner.cleanup()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--key-fetches", type=int, default=200)
    parser.add_argument("--no-synapse", action="store_true")
    args = parser.parse_args()
    if not 0 < args.seconds <= 60:
        parser.error("--seconds: above 0, at most 60")
    if not 1 <= args.requests <= 100_000 or not 1 <= args.concurrency <= 256:
        parser.error("--requests: 1 to 100000; --concurrency: 1 to 256")
    if not 1 <= args.key_fetches <= 10_000:
        parser.error("--key-fetches: 1 to 10000")
    with_synapse = not args.no_synapse and synapse_available()
    with tempfile.TemporaryDirectory(prefix="bench-federation-") as workdir:
        figures = asyncio.run(
            measure(
                args.seconds,
                args.requests,
                args.concurrency,
                args.key_fetches,
                with_synapse,
                Path(workdir),
            )
        )
    print(
        json.dumps(
            {
                "scenario": "federation",
                "server": "conduwuit",
                "seconds": args.seconds,
                "requests": args.requests,
                "concurrency": args.concurrency,
                **figures,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
