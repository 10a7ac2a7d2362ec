"""Server discovery: a server name to a :class:`Destination` (server-server API,
"Resolving server names", v1.19).

1. An IP literal: that address, the given port or 8448; ``Host`` is the server name,
   the certificate is checked for the IP.
2. A host name with a port: that host and port; ``Host`` is the server name.
3. ``https://<hostname>/.well-known/matrix/server`` names a delegated server,
   which goes through: an IP literal; a host name with a port; SRV
   ``_matrix-fed._tcp`` then (deprecated) ``_matrix._tcp``; else port 8448. Here
   ``Host`` and the certificate name are the delegated name's (with its port, if it
   has one, in ``Host``).
4. Without a well-known answer: SRV ``_matrix-fed._tcp.<hostname>`` then
   ``_matrix._tcp.<hostname>``, ``Host`` and certificate of the original name; else
   the host name on port 8448.

Who checks what: this resolver only finds where to go. It checks that the host of
the destination has addresses (A/AAAA, via :class:`~.dns.Dns`, which warms the DNS
cache the connection then reads) but not whether they are allowed:
``ip_range_denylist`` is enforced when a connection is made, by the outbound
client's aiohttp resolver (:class:`~conduwuit.service.ip_denylist.DenylistResolver`
over :meth:`~.dns.Dns.lookup`) and, for IP literals, by its check before the
request. The well-known fetch is a connection like any other and is checked the
same way (see :mod:`.well_known`). The TLS certificate is checked against
``tls_name`` by the outbound client.

For sockets and ``ssl``, ``host`` and ``tls_name`` hold an IPv6 address without
brackets; ``host_header`` keeps them, as in the server name.

Results are cached (at most ``cache_entries``) until the first of the answers they
were built from expires: the well-known document (its cache headers; failures an
hour) and the DNS answers (their TTLs, at least the configured minimums). When a
well-known fetch fails in a way that may pass (connection, timeout, 5xx) up to an
hour after a valid answer expired, that answer stays in use and the fetch is tried
again in two minutes: a blip of a web server does not send a delegated server's
traffic to the wrong place for an hour (Synapse keeps a valid well-known the same
way). An SRV
lookup that failed (rather than answered "none") counts as no record, for five
minutes.
Concurrent resolutions of one name share one lookup.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from conduwuit.core.ids import ServerName
from conduwuit.core.server_discovery import DEFAULT_PORT, ip_literal, order_srv
from conduwuit.service.clock import Clock
from conduwuit.service.federation.caching import ExpiringLru, SingleFlight
from conduwuit.service.federation.destination import Destination
from conduwuit.service.federation.dns import Dns, DnsError
from conduwuit.service.federation.well_known import WellKnownAnswer, WellKnownFetch

log = logging.getLogger(__name__)

#: SRV services asked, in order: the IANA-registered one, then the deprecated one.
SRV_SERVICES = ("_matrix-fed._tcp", "_matrix._tcp")
#: The expiry of a destination that depends on no lookup (an IP literal): a day.
STATIC_LIFETIME_MS = 24 * 3600 * 1000
#: The expiry of a destination found after an SRV lookup failed (timeouts, SERVFAIL):
#: it is taken as "no SRV record", but asked again after this long.
FAILED_LOOKUP_LIFETIME_MS = 5 * 60 * 1000
#: A valid well-known is remembered this long past its own expiry: a passing failure
#: (no connection, a timeout, a 5xx) of the next fetch in that time keeps it in use...
WELL_KNOWN_REMEMBER_MS = 3600 * 1000
#: ...and the fetch is tried again after this long, not after the failure hour.
WELL_KNOWN_RETRY_S = 120


class ResolutionError(Exception):
    """The server name is invalid, or no address could be found for it."""


class ServerResolver:
    """The :class:`~.destination.Resolver` of this server.

    The outbound client connects through
    ``DenylistResolver(IpDenylist(ip_range_denylist, lookup=resolver.dns.lookup))``:
    the same DNS and cache as discovery, and the denylist on every connection.
    ``rng`` draws the RFC 2782 order of SRV records of equal priority."""

    def __init__(
        self,
        dns: Dns,
        well_known: WellKnownFetch,
        clock: Clock,
        *,
        cache_entries: int = 32768,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.dns = dns
        #: Also fetches other documents of servers (the admin room's support look-up).
        self.well_known = well_known
        self._clock = clock
        self._rng = rng
        self._destinations: ExpiringLru[str, Destination] = ExpiringLru(cache_entries, clock)
        self._well_knowns: ExpiringLru[str, tuple[WellKnownAnswer, int]] = ExpiringLru(
            cache_entries, clock
        )
        self._valid_well_knowns: ExpiringLru[str, WellKnownAnswer] = ExpiringLru(
            cache_entries, clock
        )
        self._flights: SingleFlight[str, Destination] = SingleFlight()
        self._well_known_flights: SingleFlight[str, tuple[WellKnownAnswer, int]] = SingleFlight()

    async def close(self) -> None:
        await self.well_known.close()

    @property
    def cached_entries(self) -> int:
        """Destinations held (the DNS answers are the Dns cache's)."""
        return len(self._destinations)

    async def resolve(self, server_name: str) -> Destination:
        cached = self._destinations.get(server_name)
        if cached is not None:
            return cached
        return await self._flights.run(server_name, lambda: self._resolve(server_name))

    def forget(self, server_name: str) -> None:
        """Drop the cached destination of ``server_name`` and the DNS answers it was
        found with, positive or negative: the federation client calls this when a
        request to it fails, so a server that moved or came back (a name that did
        not resolve while it was down) is found again at the next attempt instead of
        after dns_min_ttl/dns_min_ttl_nxdomain. The destination's backoff bounds how
        often that is."""
        destination = self._destinations.get(server_name)
        self._destinations.pop(server_name)
        try:
            hosts = {ServerName.parse(server_name).host}
        except ValueError:
            hosts = set()
        if destination is not None:
            hosts.add(destination.host)
        for host in hosts:
            self.dns.forget(host)
            for service in SRV_SERVICES:
                self.dns.forget(f"{service}.{host}")

    async def _resolve(self, server_name: str) -> Destination:
        try:
            name = ServerName.parse(server_name)
        except ValueError as exc:
            raise ResolutionError(str(exc)) from exc
        try:
            destination, expires_ms = await self._discover(name)
        except DnsError as exc:
            raise ResolutionError(f"{server_name}: {exc}") from exc
        self._destinations.put(server_name, destination, expires_ms)
        log.debug("%s resolves to %s", server_name, destination)
        return destination

    async def _discover(self, name: ServerName) -> tuple[Destination, int]:
        server_name = str(name)
        literal = ip_literal(name.host)
        if literal is not None:  # step 1
            port = name.port or DEFAULT_PORT
            found = Destination(server_name, literal, port, server_name, literal)
            return found, self._clock() + STATIC_LIFETIME_MS
        if name.port is not None:  # step 2
            expires = await self._addresses(name.host)
            return Destination(server_name, name.host, name.port, server_name, name.host), expires
        well_known, well_known_expires = await self._well_known(name.host)
        if well_known is not None:  # step 3
            destination, expires = await self._delegated(server_name, well_known)
            return destination, min(expires, well_known_expires)
        srv, srv_expires = await self._srv(name.host)  # steps 4 and 5
        expires = min(srv_expires, well_known_expires)
        if srv is not None:
            target, port = srv
            return Destination(server_name, target, port, name.host, name.host), expires
        expires = min(expires, await self._addresses(name.host))  # step 6
        return Destination(server_name, name.host, DEFAULT_PORT, name.host, name.host), expires

    async def _delegated(self, server_name: str, delegated: ServerName) -> tuple[Destination, int]:
        host = delegated.host
        literal = ip_literal(host)
        if literal is not None:  # 3.1
            port = delegated.port or DEFAULT_PORT
            found = Destination(server_name, literal, port, str(delegated), literal)
            return found, self._clock() + STATIC_LIFETIME_MS
        if delegated.port is not None:  # 3.2
            expires = await self._addresses(host)
            found = Destination(server_name, host, delegated.port, str(delegated), host)
            return found, expires
        srv, expires = await self._srv(host)  # 3.3 and 3.4
        if srv is not None:
            target, port = srv
            return Destination(server_name, target, port, host, host), expires
        expires = min(expires, await self._addresses(host))  # 3.5
        return Destination(server_name, host, DEFAULT_PORT, host, host), expires

    async def _well_known(self, hostname: str) -> tuple[ServerName | None, int]:
        """The delegated name of ``hostname`` (``None``: none) and until when it holds."""
        cached = self._well_knowns.get(hostname)
        if cached is None:
            cached = await self._well_known_flights.run(
                hostname, lambda: self._fetch_well_known(hostname)
            )
        answer, expires_ms = cached
        return answer.server, expires_ms

    async def _fetch_well_known(self, hostname: str) -> tuple[WellKnownAnswer, int]:
        answer = await self.well_known.fetch(hostname)
        now = self._clock()
        if answer.server is not None:
            remember_ms = now + int(answer.cache_s * 1000) + WELL_KNOWN_REMEMBER_MS
            self._valid_well_knowns.put(hostname, answer, remember_ms)
        elif answer.transient:
            previous = self._valid_well_knowns.get(hostname)
            if previous is not None:
                log.warning(
                    "well-known of %s failed (%s): keeping %s for now",
                    hostname,
                    answer.problem,
                    previous.server,
                )
                answer = WellKnownAnswer(previous.server, WELL_KNOWN_RETRY_S, answer.problem)
        else:
            self._valid_well_knowns.pop(hostname)  # an answer that there is none: forgotten
        expires_ms = now + int(answer.cache_s * 1000)
        self._well_knowns.put(hostname, (answer, expires_ms), expires_ms)
        return answer, expires_ms

    async def _srv(self, hostname: str) -> tuple[tuple[str, int] | None, int]:
        """The first SRV target of ``hostname`` that has addresses, as (host, port)
        (``None`` when there is no SRV record), and the expiry of the answers used.
        A name with SRV records none of whose targets resolves does not resolve."""
        expires = self._clock() + STATIC_LIFETIME_MS
        for service in SRV_SERVICES:
            try:
                records, srv_expires = await self.dns.srv(f"{service}.{hostname}")
            except DnsError as exc:  # as if there were none, for a short while
                log.info("SRV lookup of %s.%s failed: %s", service, hostname, exc)
                expires = min(expires, self._clock() + FAILED_LOOKUP_LIFETIME_MS)
                continue
            expires = min(expires, srv_expires)
            ordered = order_srv(records, self._rng)
            if not ordered:
                continue
            problems = []
            for record in ordered:
                try:
                    address_expires = await self._addresses(record.target)
                except DnsError as exc:
                    problems.append(str(exc))
                    continue
                return (record.target, record.port), min(expires, address_expires)
            raise DnsError(f"no SRV target of {service}.{hostname} resolves: {problems}")
        return None, expires

    async def _addresses(self, host: str) -> int:
        """When the address answer of ``host`` expires; :class:`DnsError` if it has
        no address."""
        _, expires = await self.dns.addresses(host)
        return expires
