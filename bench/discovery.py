"""Server discovery: resolutions per second, cold and from the cache.

    python -m bench.discovery [--names 500] [--concurrency 32] [--cached-seconds 2]

Against a DNS server and an HTTPS well-known server on loopback (the test suite's,
tests/service/federation/netkit.py), with the resolver the server builds. Each name
is resolved cold once per shape, then all of them again and again from the cache:

- ``port``: ``name:8448``, one A lookup;
- ``srv``: ``name``, the well-known fetch fails (connection refused), SRV
  ``_matrix-fed._tcp`` answers, one A lookup of the target;
- ``well_known``: ``name``, a well-known over HTTPS delegates to ``host:port``,
  one A lookup.

Every answer is checked against what the DNS data says. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any

import trustme

from conduwuit.service.clock import system_clock
from conduwuit.service.federation.dns import Dns, DnsOptions
from conduwuit.service.federation.resolver import ServerResolver
from conduwuit.service.federation.well_known import WellKnownClient
from conduwuit.service.ip_denylist import IpDenylist
from tests.service.federation.netkit import LocalDns, WellKnownServer


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _resolver(dns_server: LocalDns, ca: trustme.CA, https_port: int) -> ServerResolver:
    dns = Dns([dns_server.address], DnsOptions(timeout_s=2, attempts=2), system_clock)
    context = ssl.create_default_context()
    ca.configure_trust(context)
    fetch = WellKnownClient(
        IpDenylist([], lookup=dns.lookup), context, system_clock, port=https_port
    )
    return ServerResolver(dns, fetch, system_clock)


async def _timed(
    names: list[str],
    resolve: Callable[[str], Any],
    concurrency: int,
    check: Callable[[str, Any], None],
) -> float:
    """Resolutions per second of ``names`` with ``concurrency`` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(name: str) -> None:
        async with gate:
            check(name, await resolve(name))

    started = time.perf_counter()
    await asyncio.gather(*(one(name) for name in names))
    return len(names) / (time.perf_counter() - started)


async def measure(names: int, concurrency: int, cached_seconds: float) -> dict[str, Any]:
    dns_server = await LocalDns().start()
    ca = trustme.CA()
    delegating = [f"wk{i}.test" for i in range(names)]
    https = await WellKnownServer(ca, delegating).start()
    try:
        for i in range(names):
            dns_server.records[(f"p{i}.test", "A")] = [f"192.0.2.{i % 250 + 1}"]
            dns_server.records[(f"_matrix-fed._tcp.s{i}.test", "SRV")] = [f"0 0 8443 t{i}.test."]
            dns_server.records[(f"t{i}.test", "A")] = ["192.0.2.1"]
            dns_server.records[(f"wk{i}.test", "A")] = ["127.0.0.1"]
            dns_server.records[(f"d{i}.test", "A")] = ["192.0.2.2"]
            https.serve_json(f"wk{i}.test", json.dumps({"m.server": f"d{i}.test:8449"}))
        shapes = {
            "port": ([f"p{i}.test:8448" for i in range(names)], 8448),
            "srv": ([f"s{i}.test" for i in range(names)], 8443),
            "well_known": (delegating, 8449),
        }
        figures: dict[str, Any] = {}
        for shape, (shape_names, port) in shapes.items():
            https_port = https.port if shape == "well_known" else _closed_port()
            resolver = _resolver(dns_server, ca, https_port)

            def check(name: str, destination: Any, port: int = port) -> None:
                if destination.server_name != name or destination.port != port:
                    raise AssertionError(f"{name} resolved to {destination}")

            try:
                sent = len(dns_server.queries)
                cold = await _timed(shape_names, resolver.resolve, concurrency, check)
                figures[f"{shape}_cold_per_s"] = round(cold, 1)
                figures[f"{shape}_dns_queries_per_name"] = round(
                    (len(dns_server.queries) - sent) / names, 2
                )
                passes, rates = 0, []
                deadline = time.perf_counter() + cached_seconds
                while time.perf_counter() < deadline and passes < 1000:
                    rates.append(await _timed(shape_names, resolver.resolve, concurrency, check))
                    passes += 1
                figures[f"{shape}_cached_per_s"] = round(sorted(rates)[len(rates) // 2])
            finally:
                await resolver.close()
        return figures
    finally:
        await https.stop()
        await dns_server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--names", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--cached-seconds", type=float, default=2.0)
    args = parser.parse_args()
    if not 1 <= args.names <= 20_000:
        parser.error("--names: 1 to 20000")
    figures = asyncio.run(measure(args.names, args.concurrency, args.cached_seconds))
    print(
        json.dumps(
            {
                "scenario": "discovery",
                "server": "conduwuit",
                "names": args.names,
                "concurrency": args.concurrency,
                **figures,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
