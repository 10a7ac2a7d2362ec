"""Outbound requests never reach the networks of ``ip_range_denylist`` (SSRF guard).

A host is resolved with the event loop's ``getaddrinfo``; if any address it resolves
to is in a denied network the host is refused as a whole (Synapse's
IPBlocklistingResolver does the same). :class:`DenylistResolver` is that check as an
aiohttp resolver, so a connection only ever goes to an address that was checked when
it was made: DNS that changed since a URL was accepted cannot slip through.
IPv4-mapped IPv6 addresses are checked as the IPv4 address they map.

The addresses come from the event loop's ``getaddrinfo`` unless another
:data:`HostLookup` is given (federation passes its caching DNS resolver, so that
discovery, its well-known fetches and the connections all see one DNS).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable

from aiohttp.abc import AbstractResolver, ResolveResult

log = logging.getLogger(__name__)

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``(host, family) -> [(family, address), ...]``; raises ``OSError`` when the host
#: does not resolve.
HostLookup = Callable[[str, int], Awaitable[list[tuple[int, str]]]]


async def system_lookup(host: str, family: int) -> list[tuple[int, str]]:
    """The addresses of ``host`` from the system's resolver (``getaddrinfo``)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, family=family, type=socket.SOCK_STREAM)
    return [(fam, str(sockaddr[0])) for fam, _type, _proto, _name, sockaddr in infos]


class DeniedHost(Exception):
    """The host resolves to a denied address, or does not resolve."""


class UnresolvedHost(DeniedHost):
    """A well-formed host name that does not resolve (now: DNS may answer later)."""


class IpDenylist:
    def __init__(self, networks: Iterable[str], lookup: HostLookup | None = None) -> None:
        self._networks = [ipaddress.ip_network(n, strict=False) for n in networks]
        self._lookup = lookup

    def denies(self, address: str | IpAddress) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0]) if isinstance(address, str) else address
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self._networks)

    async def resolve(
        self, host: str, port: int, family: int = socket.AF_UNSPEC
    ) -> list[ResolveResult]:
        """Every address of ``host``, or :class:`DeniedHost` if it does not resolve or
        any address is denied."""
        found: list[tuple[int, str]]
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            try:
                found = await (self._lookup or system_lookup)(host, family)
            except UnicodeError as exc:  # not a host name at all (an empty label, ...)
                raise DeniedHost(f"{host} cannot be resolved") from exc
            except OSError as exc:
                raise UnresolvedHost(f"{host} cannot be resolved") from exc
        else:
            found = [(socket.AF_INET6 if literal.version == 6 else socket.AF_INET, str(literal))]
        results: list[ResolveResult] = []
        for fam, address in found:
            if self.denies(address):
                log.info("refused %s: it resolves to %s, in ip_range_denylist", host, address)
                raise DeniedHost(f"{host} resolves to an address in ip_range_denylist")
            results.append(
                ResolveResult(
                    hostname=host,
                    host=address,
                    port=port,
                    family=fam,
                    proto=socket.IPPROTO_TCP,
                    flags=socket.AI_NUMERICHOST,
                )
            )
        if not results:
            raise UnresolvedHost(f"{host} cannot be resolved")
        return results

    async def check(self, host: str, port: int) -> None:
        """:class:`DeniedHost` unless ``host`` (a name or an IP literal) is allowed."""
        await self.resolve(host, port)


class DenylistResolver(AbstractResolver):
    """aiohttp's resolver for clients that must honour the denylist. aiohttp does not
    ask the resolver about IP literals: callers check those with
    :meth:`IpDenylist.check` before the request."""

    def __init__(self, denylist: IpDenylist) -> None:
        self._denylist = denylist

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            return await self._denylist.resolve(host, port, family)
        except DeniedHost as exc:
            raise OSError(str(exc)) from exc

    async def close(self) -> None:
        return None
