"""Fixtures of discovery tests: a local DNS server, a local HTTPS well-known server
for the ``.test`` names below, a clock tests move, and the resolver over them."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest
import trustme

from conduwuit.service.federation.dns import Dns, DnsOptions
from conduwuit.service.federation.resolver import ServerResolver
from conduwuit.service.federation.well_known import WellKnownClient
from conduwuit.service.ip_denylist import IpDenylist
from tests.service.federation.netkit import LocalDns, WellKnownServer

#: Names the HTTPS server has a certificate for.
HOSTS = ["example.test", "other.test", "third.test", "denied.test"]
#: Quick failures: tests that time out on purpose wait 0.2 s per try.
FAST = DnsOptions(timeout_s=0.2, attempts=1)


class FakeClock:
    def __init__(self) -> None:
        self.now_ms = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, seconds: float) -> None:
        self.now_ms += int(seconds * 1000)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def local_dns() -> AsyncIterator[LocalDns]:
    server = await LocalDns().start()
    yield server
    await server.stop()


@pytest.fixture
async def https(ca: trustme.CA, local_dns: LocalDns) -> AsyncIterator[WellKnownServer]:
    server = await WellKnownServer(ca, HOSTS).start()
    for host in HOSTS:
        local_dns.records[(host, "A")] = ["127.0.0.1"]
    yield server
    await server.stop()


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


MakeResolver = Callable[..., ServerResolver]


@pytest.fixture
async def make_resolver(
    ca: trustme.CA, local_dns: LocalDns, https: WellKnownServer, clock: FakeClock
) -> AsyncIterator[MakeResolver]:
    """``make_resolver(denylist=[...], cache_entries=..., **dns_options)``: a resolver
    whose DNS is ``local_dns`` and whose well-known fetches reach ``https``."""
    made: list[ServerResolver] = []

    def make(
        denylist: list[str] | None = None, cache_entries: int = 1000, **options: object
    ) -> ServerResolver:
        dns = Dns([local_dns.address], replace(FAST, **options), clock)  # type: ignore[arg-type]
        fetch = WellKnownClient(
            IpDenylist(denylist or [], lookup=dns.lookup),
            client_context(ca),
            clock,
            port=https.port,
            timeout_s=5,
        )
        resolver = ServerResolver(dns, fetch, clock, cache_entries=cache_entries)
        made.append(resolver)
        return resolver

    yield make
    for resolver in made:
        await resolver.close()
