"""Where a server name's federation traffic goes (spec: "Resolving server names").

The resolver turns a server name into a :class:`Destination`; the outbound client
connects to ``host``:``port``, sends ``Host: host_header`` and checks the TLS
certificate against ``tls_name`` (also the SNI). Kept apart from both so either can
be replaced without the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Destination:
    #: The server name as other servers and events spell it, e.g. ``example.org``.
    server_name: str
    #: What to connect to: an IP literal or a host name (resolved with A/AAAA).
    host: str
    port: int
    #: The ``Host`` header of every request to this destination.
    host_header: str
    #: The name the TLS certificate must be valid for, also sent as SNI.
    tls_name: str


class Resolver(Protocol):
    async def resolve(self, server_name: str) -> Destination:
        """The destination of ``server_name``; raises if it cannot be found."""
        ...

    def forget(self, server_name: str) -> None:
        """Drop what is cached about ``server_name`` (after a failure: its address may
        have changed, or a name that did not resolve may now)."""
        ...
