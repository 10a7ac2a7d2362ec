"""The interim resolver: IP literals and explicit ``host:port`` server names only.

Server-server API, "Resolving server names", steps 1 and 2: an IP literal goes to
that address (port 8448 unless given), a host name with an explicit port goes to
that host and port (resolved when the connection is made, through the
``ip_range_denylist`` check); in both cases ``Host`` is the server name and the
certificate must be valid for the hostname or IP. Anything else needs
``.well-known`` or SRV discovery, which this resolver does not do: it raises.
The full resolver implements the same :class:`Resolver` protocol.
"""

from __future__ import annotations

import ipaddress

from conduwuit.service.federation.destination import Destination

DEFAULT_PORT = 8448


class UnresolvableServer(Exception):
    """The server name needs discovery this resolver does not do, or is malformed."""


def split_server_name(server_name: str) -> tuple[str, int | None]:
    """(host, port or None) of a server name; brackets of an IPv6 literal removed."""
    if server_name.startswith("["):
        host, sep, rest = server_name[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise UnresolvableServer(f"malformed server name {server_name!r}")
        port_text = rest[1:] if rest else None
    else:
        host, sep, port_text = server_name.rpartition(":")
        if not sep:
            host, port_text = server_name, None
        if ":" in host:
            raise UnresolvableServer(f"IPv6 literal without brackets in {server_name!r}")
    if not host:
        raise UnresolvableServer(f"malformed server name {server_name!r}")
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UnresolvableServer(f"bad port in server name {server_name!r}")
    return host, int(port_text)


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class LiteralResolver:
    async def resolve(self, server_name: str) -> Destination:
        host, port = split_server_name(server_name)
        if is_ip_literal(host):
            return Destination(server_name, host, port or DEFAULT_PORT, server_name, host)
        if port is None:
            raise UnresolvableServer(
                f"{server_name} has no explicit port: finding its server needs .well-known "
                "or SRV discovery, which this server does not do yet"
            )
        return Destination(server_name, host, port, server_name, host)
