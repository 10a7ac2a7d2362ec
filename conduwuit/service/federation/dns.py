"""A caching DNS stub resolver for server discovery (dnspython's wire primitives,
in :mod:`.dns_wire`, imported on the first query).

It asks the configured nameservers (production: those of ``/etc/resolv.conf``;
tests: a DNS server on loopback) directly, with conduwuit's DNS options:

- ``dns_timeout`` per query, ``dns_attempts`` more rounds over the nameservers after
  timeouts and server failures;
- ``dns_tcp_fallback``: a truncated (or failed) UDP answer is asked again over TCP;
  ``query_over_tcp_only`` skips UDP;
- ``query_all_nameservers``: a negative answer (NXDOMAIN or no records) from one
  nameserver is checked with the others before it is believed;
- answers are cached for their TTL but at least ``dns_min_ttl`` (negative ones at
  least ``dns_min_ttl_nxdomain``), in at most ``dns_cache_entries`` entries;
  failures (timeouts, SERVFAIL) are not cached;
- ``ip_lookup_strategy`` picks which of A and AAAA are asked, and in which order.

CNAME chains are followed, in the answer a recursive nameserver gives or by asking
again for the chain's end.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conduwuit.core.server_discovery import SrvTarget, parse_hosts
from conduwuit.service.clock import Clock
from conduwuit.service.federation.caching import ExpiringLru, SingleFlight

if TYPE_CHECKING:
    from conduwuit.service.federation.dns_wire import Wire

#: (IP address, port) of a nameserver.
Nameserver = tuple[str, int]
#: Longest CNAME chain followed.
MAX_CNAME_HOPS = 8

#: Record types (dnspython's ``RdataType`` values; it is an ``IntEnum``).
A, CNAME, SOA, SRV, AAAA = 1, 5, 6, 33, 28

#: ``ip_lookup_strategy``: which address records are asked, and how.
IPV4_ONLY, IPV6_ONLY, IPV4_AND_IPV6, IPV6_THEN_IPV4, IPV4_THEN_IPV6 = 1, 2, 3, 4, 5


class DnsError(OSError):
    """No nameserver gave an answer (timeouts, failures), or a name has no address.
    An ``OSError`` like ``getaddrinfo``'s errors, so connection code treats both alike."""


@dataclass(frozen=True)
class DnsOptions:
    """conduwuit's DNS options (config names in the comments)."""

    timeout_s: float = 10  # dns_timeout
    attempts: int = 10  # dns_attempts
    tcp_fallback: bool = True  # dns_tcp_fallback
    tcp_only: bool = False  # query_over_tcp_only
    query_all_nameservers: bool = True  # query_all_nameservers
    min_ttl_s: int = 10800  # dns_min_ttl
    min_ttl_nxdomain_s: int = 259200  # dns_min_ttl_nxdomain
    cache_entries: int = 32768  # dns_cache_entries
    ip_lookup_strategy: int = IPV4_THEN_IPV6  # ip_lookup_strategy


@dataclass(frozen=True)
class DnsAnswer:
    """The records of one name and type (empty: the name or the type does not exist),
    and when the answer stops being valid (clock milliseconds)."""

    records: tuple[Any, ...]
    """dnspython ``Rdata`` records."""
    nxdomain: bool
    expires_ms: int


def system_nameservers() -> list[Nameserver]:
    """The nameservers of the system's resolver configuration (``/etc/resolv.conf``)."""
    import dns.resolver

    try:
        configured = dns.resolver.Resolver(configure=True).nameservers
    except dns.resolver.NoResolverConfiguration:
        configured = []
    return [(str(ns), 53) for ns in configured] or [("127.0.0.1", 53)]


def system_hosts(path: Path = Path("/etc/hosts")) -> dict[str, list[str]]:
    """The system's hosts file, read once at start as the system resolver and
    conduwuit's do (container platforms put names such as ``host.docker.internal``
    there); empty when there is none."""
    try:
        return parse_hosts(path.read_text(errors="replace"))
    except OSError:
        return {}


class Dns:
    """Queries to the nameservers, cached by TTL; A/AAAA of names in ``hosts`` (the
    hosts file) are answered from it first. ``nameservers`` may be a function giving
    them (:func:`system_nameservers`), called on the first query."""

    def __init__(
        self,
        nameservers: Sequence[Nameserver] | Callable[[], Sequence[Nameserver]],
        options: DnsOptions,
        clock: Clock,
        hosts: Mapping[str, list[str]] | None = None,
    ) -> None:
        if not callable(nameservers) and not nameservers:
            raise ValueError("at least one nameserver is needed")
        self._hosts = dict(hosts or {})
        self._nameservers = nameservers if callable(nameservers) else list(nameservers)
        self._wire: Wire | None = None
        self._options = options
        self._clock = clock
        self._cache: ExpiringLru[tuple[str, int], DnsAnswer] = ExpiringLru(
            options.cache_entries, clock
        )
        self._flights: SingleFlight[tuple[str, int], DnsAnswer] = SingleFlight()

    @property
    def options(self) -> DnsOptions:
        return self._options

    @property
    def cached_entries(self) -> int:
        return len(self._cache)

    @property
    def queries_sent(self) -> int:
        """Queries sent, over UDP and TCP together (for tests and the benchmark)."""
        return 0 if self._wire is None else self._wire.queries_sent

    async def query(self, name: str, rdtype: int) -> DnsAnswer:
        """The answer for ``name``/``rdtype``, from the cache or the nameservers;
        :class:`DnsError` if none answered."""
        key = (name.lower().rstrip("."), int(rdtype))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        return await self._flights.run(key, lambda: self._resolve(key[0], int(rdtype)))

    def forget(self, name: str) -> None:
        """Drop the cached answers (positive or negative) of ``name``."""
        name = name.lower().rstrip(".")
        for rdtype in (A, AAAA, SRV):
            self._cache.pop((name, rdtype))

    async def _resolve(self, name: str, rdtype: int) -> DnsAnswer:
        if self._wire is None:
            # dnspython (2.4 MiB of RSS) is imported on the first query, not at start-up:
            # a server that never federates never loads it (issue 21).
            from conduwuit.service.federation.dns_wire import Wire

            given = self._nameservers
            nameservers = given() if callable(given) else given
            self._wire = Wire(nameservers, self._options, self._clock)
        answer = await self._wire.resolve(name, rdtype)
        self._cache.put((name, rdtype), answer, answer.expires_ms)
        return answer

    # -- the lookups of server discovery ------------------------------------------------

    async def srv(self, name: str) -> tuple[list[SrvTarget], int]:
        """The SRV records of ``name`` and when that answer expires."""
        answer = await self.query(name, SRV)
        records = [
            SrvTarget(r.priority, r.weight, r.port, r.target.to_text(omit_final_dot=True))
            for r in answer.records
            if r.rdtype == SRV
        ]
        return records, answer.expires_ms

    async def addresses(self, host: str, family: int = socket.AF_UNSPEC) -> tuple[list[str], int]:
        """The addresses of ``host`` (AAAA and A records as ``ip_lookup_strategy`` says,
        or only one of them for ``family`` AF_INET/AF_INET6) and when the answer
        expires; :class:`DnsError` when it has none."""
        strategy = self._options.ip_lookup_strategy
        if family == socket.AF_INET:
            strategy = IPV4_ONLY
        elif family == socket.AF_INET6:
            strategy = IPV6_ONLY
        listed = self._hosts.get(host.lower().rstrip("."))
        if listed:
            return self._from_hosts(host, listed, strategy)
        if strategy == IPV4_ONLY:
            plan: list[list[int]] = [[A]]
        elif strategy == IPV6_ONLY:
            plan = [[AAAA]]
        elif strategy == IPV4_AND_IPV6:
            plan = [[AAAA, A]]
        elif strategy == IPV6_THEN_IPV4:
            plan = [[AAAA], [A]]
        else:
            plan = [[A], [AAAA]]
        problems: list[str] = []
        for step in plan:
            answers = await asyncio.gather(
                *(self.query(host, rdtype) for rdtype in step), return_exceptions=True
            )
            found: list[str] = []
            expires = []
            for answer in answers:
                if isinstance(answer, DnsAnswer):
                    found.extend(r.to_text() for r in answer.records)
                    expires.append(answer.expires_ms)
                elif isinstance(answer, Exception):
                    problems.append(str(answer))
                else:
                    raise answer
            if found:
                return found, min(expires)
        raise DnsError(f"{host} has no address" + (f" ({problems[0]})" if problems else ""))

    def _from_hosts(self, host: str, listed: list[str], strategy: int) -> tuple[list[str], int]:
        v4 = [a for a in listed if ":" not in a]
        v6 = [a for a in listed if ":" in a]
        if strategy == IPV4_ONLY:
            found = v4
        elif strategy == IPV6_ONLY:
            found = v6
        elif strategy == IPV4_AND_IPV6:
            found = v6 + v4
        elif strategy == IPV6_THEN_IPV4:
            found = v6 or v4
        else:
            found = v4 or v6
        if not found:
            raise DnsError(f"{host} has no address of the family asked for in the hosts file")
        # The file is read once: its answers last as long as the longest DNS minimum.
        return found, self._clock() + self._options.min_ttl_s * 1000

    async def lookup(self, host: str, family: int) -> list[tuple[int, str]]:
        """(family, address) of ``host``: the address lookup of
        :class:`conduwuit.service.ip_denylist.IpDenylist`."""
        addresses, _ = await self.addresses(host, family)
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, a) for a in addresses]
