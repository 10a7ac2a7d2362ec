"""The caching DNS client and conduwuit's DNS options, against a DNS server on
loopback."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import dns.rdatatype
import pytest

from conduwuit.service.federation.dns import Dns, DnsError, DnsOptions, read_hosts
from conduwuit.service.ip_denylist import DeniedHost, IpDenylist
from tests.service.federation.conftest import FAST, FakeClock
from tests.service.federation.netkit import LocalDns

A = dns.rdatatype.A


def client(server: LocalDns, clock: FakeClock, **options: object) -> Dns:
    return Dns([server.address], replace(FAST, **options), clock)  # type: ignore[arg-type]


async def test_answers_are_cached_for_the_ttl_but_at_least_the_minimum(
    local_dns: LocalDns, clock: FakeClock
) -> None:
    local_dns.ttl = 5
    local_dns.records[("short.test", "A")] = ["192.0.2.1"]
    resolver = client(local_dns, clock, min_ttl_s=60)
    assert (await resolver.addresses("short.test"))[0] == ["192.0.2.1"]
    clock.advance(59)
    await resolver.addresses("short.test")
    assert local_dns.count("short.test", "A") == 1
    clock.advance(2)
    await resolver.addresses("short.test")
    assert local_dns.count("short.test", "A") == 2
    # a TTL over the minimum is honoured
    local_dns.ttl = 600
    local_dns.records[("long.test", "A")] = ["192.0.2.2"]
    _, expires = await resolver.addresses("long.test")
    assert expires == clock() + 600_000


async def test_negative_answers_are_cached_at_least_the_nxdomain_minimum(
    local_dns: LocalDns, clock: FakeClock
) -> None:
    local_dns.negative_ttl = 5
    local_dns.records[("nodata.test", "TXT")] = ['"x"']
    resolver = client(local_dns, clock, min_ttl_nxdomain_s=120)
    answer = await resolver.query("missing.test", A)
    assert answer.nxdomain and answer.records == ()
    nodata = await resolver.query("nodata.test", A)
    assert not nodata.nxdomain and nodata.records == ()
    clock.advance(119)
    await resolver.query("missing.test", A)
    await resolver.query("nodata.test", A)
    assert local_dns.count("missing.test") == 1 and local_dns.count("nodata.test") == 1
    clock.advance(2)
    await resolver.query("missing.test", A)
    assert local_dns.count("missing.test") == 2
    # an SOA minimum over the configured one is honoured
    local_dns.negative_ttl = 500
    answer = await resolver.query("absent.test", A)
    assert answer.expires_ms == clock() + 500_000


async def test_cache_is_bounded(local_dns: LocalDns, clock: FakeClock) -> None:
    for n in range(3):
        local_dns.records[(f"h{n}.test", "A")] = [f"192.0.2.{n}"]
    resolver = client(local_dns, clock, cache_entries=2)
    for n in [0, 1, 2, 0]:
        await resolver.addresses(f"h{n}.test")
    assert resolver.cached_entries == 2
    assert local_dns.count("h0.test") == 2  # dropped when h2 came
    assert local_dns.count("h1.test") == 1


async def test_timeouts_are_retried_dns_attempts_times(
    local_dns: LocalDns, clock: FakeClock
) -> None:
    local_dns.records[("slow.test", "A")] = ["192.0.2.1"]
    local_dns.drop_udp = 2
    resolver = client(local_dns, clock, timeout_s=0.2, attempts=2)
    started = time.monotonic()
    assert (await resolver.addresses("slow.test"))[0] == ["192.0.2.1"]
    assert 0.35 < time.monotonic() - started < 5
    assert [t for t, n, _ in local_dns.queries if n == "slow.test"] == ["dropped", "dropped", "udp"]


async def test_too_few_attempts_give_up_after_timeouts(
    local_dns: LocalDns, clock: FakeClock
) -> None:
    local_dns.records[("slow.test", "A")] = ["192.0.2.1"]
    local_dns.drop_udp = 3
    resolver = client(local_dns, clock, timeout_s=0.2, attempts=1)
    started = time.monotonic()
    with pytest.raises(DnsError):
        await resolver.query("slow.test", A)
    assert 0.35 < time.monotonic() - started < 5
    assert local_dns.count("slow.test") == 2
    # failures are not cached: the next query asks again (and is answered)
    local_dns.drop_udp = 0
    assert (await resolver.query("slow.test", A)).records


async def test_truncated_udp_answer_is_asked_again_over_tcp(
    local_dns: LocalDns, clock: FakeClock
) -> None:
    local_dns.records[("big.test", "A")] = ["192.0.2.1", "192.0.2.2"]
    local_dns.truncate_udp = True
    resolver = client(local_dns, clock)
    assert sorted((await resolver.addresses("big.test"))[0]) == ["192.0.2.1", "192.0.2.2"]
    assert [t for t, n, _ in local_dns.queries] == ["udp", "tcp"]
    # without the fallback the truncated answer is all there is
    without = client(local_dns, clock, tcp_fallback=False)
    assert (await without.query("big.test", A)).records == ()
    with pytest.raises(DnsError):
        await without.addresses("big.test")
    assert "tcp" not in [t for t, _, _ in local_dns.queries[2:]]


async def test_tcp_only(local_dns: LocalDns, clock: FakeClock) -> None:
    local_dns.records[("tcp.test", "A")] = ["192.0.2.1"]
    resolver = client(local_dns, clock, tcp_only=True)
    assert (await resolver.addresses("tcp.test"))[0] == ["192.0.2.1"]
    assert [t for t, _, _ in local_dns.queries] == ["tcp"]


@pytest.fixture
async def second_dns() -> AsyncIterator[LocalDns]:
    server = await LocalDns().start()
    yield server
    await server.stop()


async def test_query_all_nameservers(
    local_dns: LocalDns, second_dns: LocalDns, clock: FakeClock
) -> None:
    second_dns.records[("late.test", "A")] = ["192.0.2.9"]
    nameservers = [local_dns.address, second_dns.address]
    asking_all = Dns(nameservers, replace(FAST, query_all_nameservers=True), clock)
    assert (await asking_all.addresses("late.test"))[0] == ["192.0.2.9"]
    first_only = Dns(nameservers, replace(FAST, query_all_nameservers=False), clock)
    with pytest.raises(DnsError):
        await first_only.addresses("late.test")
    assert second_dns.count("late.test") == 1  # only asking_all asked it
    # a timing-out nameserver is skipped either way
    local_dns.drop_udp = 10
    skipping = Dns(nameservers, replace(FAST, query_all_nameservers=False), clock)
    assert (await skipping.addresses("late.test"))[0] == ["192.0.2.9"]


@pytest.mark.parametrize("recursive", [True, False])
async def test_cname_chains_are_followed(
    local_dns: LocalDns, clock: FakeClock, recursive: bool
) -> None:
    local_dns.recursive = recursive
    local_dns.records[("alias.test", "CNAME")] = ["middle.test."]
    local_dns.records[("middle.test", "CNAME")] = ["real.test."]
    local_dns.records[("real.test", "A")] = ["192.0.2.7"]
    resolver = client(local_dns, clock)
    assert (await resolver.addresses("alias.test"))[0] == ["192.0.2.7"]
    assert local_dns.count("real.test") == (0 if recursive else 1)


async def test_cname_loop_fails(local_dns: LocalDns, clock: FakeClock) -> None:
    local_dns.recursive = False
    local_dns.records[("loop1.test", "CNAME")] = ["loop2.test."]
    local_dns.records[("loop2.test", "CNAME")] = ["loop1.test."]
    with pytest.raises(DnsError):
        await client(local_dns, clock).addresses("loop1.test")


@pytest.mark.parametrize(
    ("strategy", "asked", "found"),
    [
        (1, ["A"], ["192.0.2.1"]),
        (2, ["AAAA"], ["2001:db8::1"]),
        (3, ["AAAA", "A"], ["2001:db8::1", "192.0.2.1"]),
        (4, ["AAAA"], ["2001:db8::1"]),
        (5, ["A"], ["192.0.2.1"]),
    ],
)
async def test_ip_lookup_strategy(
    local_dns: LocalDns, clock: FakeClock, strategy: int, asked: list[str], found: list[str]
) -> None:
    local_dns.records[("dual.test", "A")] = ["192.0.2.1"]
    local_dns.records[("dual.test", "AAAA")] = ["2001:db8::1"]
    resolver = client(local_dns, clock, ip_lookup_strategy=strategy)
    assert (await resolver.addresses("dual.test"))[0] == found
    assert sorted(t for _, _, t in local_dns.queries) == sorted(asked)


@pytest.mark.parametrize(("strategy", "found"), [(1, None), (2, "2001:db8::1"), (5, "2001:db8::1")])
async def test_ip_lookup_strategy_falls_back_or_not(
    local_dns: LocalDns, clock: FakeClock, strategy: int, found: str | None
) -> None:
    local_dns.records[("v6.test", "AAAA")] = ["2001:db8::1"]
    resolver = client(local_dns, clock, ip_lookup_strategy=strategy)
    if found is None:
        with pytest.raises(DnsError):
            await resolver.addresses("v6.test")
    else:
        assert (await resolver.addresses("v6.test"))[0] == [found]


async def test_concurrent_queries_share_one_question(local_dns: LocalDns, clock: FakeClock) -> None:
    local_dns.records[("busy.test", "A")] = ["192.0.2.1"]
    resolver = client(local_dns, clock)
    answers = await asyncio.gather(*(resolver.query("busy.test", A) for _ in range(50)))
    assert len({a.records for a in answers}) == 1
    assert local_dns.count("busy.test") == 1


async def test_denylist_lookup_through_dns(local_dns: LocalDns, clock: FakeClock) -> None:
    local_dns.records[("inside.test", "A")] = ["10.1.2.3"]
    local_dns.records[("outside.test", "AAAA")] = ["2001:db8::1"]
    resolver = client(local_dns, clock)
    denylist = IpDenylist(["10.0.0.0/8"], lookup=resolver.lookup)
    with pytest.raises(DeniedHost):
        await denylist.check("inside.test", 443)
    with pytest.raises(DeniedHost):
        await denylist.check("10.9.9.9", 443)
    results = await denylist.resolve("outside.test", 443)
    assert [(r["host"], r["family"]) for r in results] == [("2001:db8::1", socket.AF_INET6)]
    with pytest.raises(DeniedHost):
        await denylist.check("missing.test", 443)


def test_needs_a_nameserver(clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        Dns([], DnsOptions(), clock)


def test_a_hosts_file_is_read_as_the_system_resolver_does(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text(
        "# comment\n127.0.0.1 localhost\n::1 localhost ip6-localhost\n"
        "172.17.0.1\thost.docker.internal Pinned.Test. # gateway\nnot-an-ip name\n\n"
    )
    assert read_hosts(hosts) == {
        "localhost": ["127.0.0.1", "::1"],
        "ip6-localhost": ["::1"],
        "host.docker.internal": ["172.17.0.1"],
        "pinned.test": ["172.17.0.1"],
    }
    assert read_hosts(tmp_path / "missing") == {}


async def test_hosts_entries_are_answered_before_any_nameserver(
    local_dns: LocalDns, clock: FakeClock
) -> None:
    local_dns.records[("pinned.test", "A")] = ["127.0.0.9"]
    dns = Dns(
        [local_dns.address],
        FAST,
        clock,
        hosts={"pinned.test": ["127.0.0.7", "::7"], "six.test": ["::6"]},
    )
    assert (await dns.addresses("Pinned.Test"))[0] == ["127.0.0.7"]
    assert (await dns.addresses("pinned.test", socket.AF_INET6))[0] == ["::7"]
    assert (await dns.addresses("six.test"))[0] == ["::6"]  # A first, then AAAA
    assert local_dns.queries == []
