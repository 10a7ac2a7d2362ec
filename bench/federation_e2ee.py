"""Encrypted messages across servers: send → decrypt latency.

    python -m bench.federation_e2ee [--messages 30] [--no-synapse]

Alice and Bob, matrix-nio clients each on their own server, in an encrypted room
(``tests/kit/nio_e2ee.py``: keys queried and claimed across servers, devices
trusted). Alice sends ``--messages`` messages one at a time; each is timed from
the send until Bob's long-polling sync has it decrypted (Alice's server queues it,
sends it over federation, Bob's server wakes his sync). The first message also
shares the Megolm room key over to-device (Olm): it is reported apart
(``first_ms``); the others give ``p50_ms`` and ``p90_ms``.

Pairs: ours ↔ ours (two server processes), and Synapse ↔ Synapse in the same run
(the ``crosscheck`` extra; left out with ``--no-synapse`` or without Synapse), on
loopback TLS with a test CA (``tests/kit/federation.py``). Every loop is bounded in
count and time. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from nio import AsyncClient, RoomSendResponse

from tests.kit.federation import FederationNet, HasBaseUrl, federation
from tests.kit.nio_e2ee import decrypted_texts, encrypted_pair
from tests.kit.synapse_peer import synapse_available, synapse_version

#: Longest wait for one message to arrive decrypted.
MESSAGE_TIMEOUT_S = 30.0
#: How long one of Bob's syncs long-polls.
SYNC_TIMEOUT_MS = 10_000


def ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


async def _until_decrypted(bob: AsyncClient, seen: list[str], body: str) -> None:
    deadline = time.monotonic() + MESSAGE_TIMEOUT_S
    while body not in seen:
        assert time.monotonic() < deadline, f"{body!r} not decrypted in {MESSAGE_TIMEOUT_S}s"
        await bob.sync(timeout=SYNC_TIMEOUT_MS)


async def latencies(a: HasBaseUrl, b: HasBaseUrl, messages: int, workdir: Path) -> dict[str, Any]:
    """Send → decrypted times of ``messages`` messages from Alice on ``a`` to Bob on ``b``."""
    alice, bob, room_id = await encrypted_pair(a, b, workdir)
    try:
        seen: list[str] = []
        decrypted_texts(bob, room_id, seen)
        times: list[float] = []
        for i in range(messages):
            body = f"message {i}"
            started = time.perf_counter()
            sent = await alice.room_send(
                room_id, "m.room.message", {"msgtype": "m.text", "body": body}
            )
            assert isinstance(sent, RoomSendResponse), sent
            await _until_decrypted(bob, seen, body)
            times.append(time.perf_counter() - started)
        rest = times[1:] or times
        return {
            "messages": len(times),
            "first_ms": round(times[0] * 1000, 1),
            "p50_ms": ms(rest, 0.5),
            "p90_ms": ms(rest, 0.9),
        }
    finally:
        await alice.close()
        await bob.close()


async def measure(messages: int, with_synapse: bool, workdir: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with federation(workdir / "net") as net:
        ours = _ours(net)
        figures.update(
            {
                f"ours_{k}": v
                for k, v in (await latencies(*ours, messages, _stores(workdir, "ours"))).items()
            }
        )
        if with_synapse:
            s1, s2 = net.synapse(5).start(), net.synapse(6).start()
            theirs = await latencies(s1, s2, messages, _stores(workdir, "synapse"))
            figures.update({f"synapse_{k}": v for k, v in theirs.items()})
            figures["synapse_version"] = synapse_version()
            figures["p50_ratio"] = round(figures["ours_p50_ms"] / figures["synapse_p50_ms"], 2)
    return figures


def _stores(workdir: Path, name: str) -> Path:
    """A directory for the clients' stores."""
    path = workdir / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def _ours(net: FederationNet) -> tuple[HasBaseUrl, HasBaseUrl]:
    a, b = net.server(2), net.server(3)
    for server in (a, b):
        server.start(wait=False)
    for server in (a, b):
        server.wait_ready(60)
    return a, b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument("--no-synapse", action="store_true")
    args = parser.parse_args()
    if not 2 <= args.messages <= 1000:
        parser.error("--messages: 2 to 1000")
    with_synapse = not args.no_synapse and synapse_available()
    with tempfile.TemporaryDirectory(prefix="bench-federation-e2ee-") as workdir:
        figures = asyncio.run(measure(args.messages, with_synapse, Path(workdir)))
    print(
        json.dumps(
            {"scenario": "federation_e2ee", "server": "conduwuit", **figures}, sort_keys=True
        )
    )


if __name__ == "__main__":
    main()
