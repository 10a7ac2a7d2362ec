"""Real network peers for discovery tests, on loopback: a DNS server answering from a
dict (UDP and TCP on one port) and an HTTPS server for well-known documents, whose
certificate a throwaway test CA issued."""

from __future__ import annotations

import asyncio
import ssl
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import cast

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import trustme
from aiohttp import web

from conduwuit.service.clock import Clock
from conduwuit.service.federation.dns import Dns, DnsOptions, system_nameservers
from conduwuit.service.federation.resolver import ServerResolver
from conduwuit.service.federation.well_known import WellKnownClient
from conduwuit.service.ip_denylist import IpDenylist

#: Names of the test zone; every one resolves only through :class:`LocalDns`.
ZONE = "test"


@dataclass
class LocalDns:
    """Answers from ``records``: ``{(name, type): [rdata text, ...]}``, e.g.
    ``{("example.test", "A"): ["127.0.0.1"]}``; a name with no record at all is
    NXDOMAIN, a name with records of other types answers NOERROR without records
    (both with an SOA whose minimum is ``negative_ttl``).

    ``recursive``: a CNAME is followed in the answer, as a recursive nameserver
    does; otherwise only the CNAME is given. ``drop_udp``: so many next UDP queries
    are not answered (the client times out). ``servfail``: names answered with
    SERVFAIL. ``truncate_udp``: UDP answers carry the
    TC flag and no records, so only TCP gives them. ``queries``: every query as
    (transport, name, type)."""

    records: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    ttl: int = 300
    negative_ttl: int = 60
    recursive: bool = True
    drop_udp: int = 0
    truncate_udp: bool = False
    servfail: set[str] = field(default_factory=set)
    queries: list[tuple[str, str, str]] = field(default_factory=list)
    port: int = 0
    _udp: asyncio.DatagramTransport | None = None
    _tcp: asyncio.Server | None = None

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def count(self, name: str, rdtype: str | None = None) -> int:
        return sum(1 for _, n, t in self.queries if n == name and rdtype in (None, t))

    async def start(self) -> LocalDns:
        loop = asyncio.get_running_loop()
        for _ in range(20):  # a UDP port whose TCP twin is free too
            transport, _protocol = await loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=("127.0.0.1", 0)
            )
            port = transport.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, "127.0.0.1", port)
            except OSError:
                transport.close()
                continue
            self._udp, self.port = transport, port
            return self
        raise RuntimeError("no free port pair")

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                wire = await reader.readexactly(length)
                reply = self.answer(wire, "tcp")
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def answer(self, wire: bytes, transport: str) -> bytes:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((transport, name, rdtype))
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        if name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        if transport == "udp" and self.truncate_udp:
            response.flags |= dns.flags.TC
            return response.to_wire()
        current = name
        for _ in range(10):
            texts = self.records.get((current, rdtype))
            if texts:
                response.answer.append(self._rrset(current, rdtype, texts))
                return response.to_wire()
            aliases = self.records.get((current, "CNAME"))
            if not aliases:
                break
            response.answer.append(self._rrset(current, "CNAME", aliases))
            if not self.recursive:
                return response.to_wire()
            current = aliases[0].rstrip(".").lower()
        if not any(n == current for n, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        soa = f"ns.{ZONE}. admin.{ZONE}. 1 3600 600 86400 {self.negative_ttl}"
        response.authority.append(self._rrset(ZONE, "SOA", [soa], ttl=self.negative_ttl))
        return response.to_wire()

    def _rrset(
        self, name: str, rdtype: str, texts: list[str], ttl: int | None = None
    ) -> dns.rrset.RRset:
        return dns.rrset.from_text_list(
            dns.name.from_text(name), self.ttl if ttl is None else ttl, "IN", rdtype, texts
        )


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: LocalDns) -> None:
        self._server = server
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self._server.drop_udp > 0:
            self._server.drop_udp -= 1
            query = dns.message.from_wire(data)
            self._server.queries.append(
                ("dropped", query.question[0].name.to_text(omit_final_dot=True), "")
            )
            return
        assert self._transport is not None
        self._transport.sendto(self._server.answer(data, "udp"), addr)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WellKnownServer:
    """HTTPS on 127.0.0.1 and 127.0.0.2 (one random port) for the ``.test`` names of
    ``hosts`` and the IP 127.0.0.1: each
    request goes to ``handlers[host]`` (by the Host header); a host without a handler
    gets a 404. ``requests`` counts requests per host."""

    def __init__(self, ca: trustme.CA, hosts: list[str]) -> None:
        self._ca = ca
        self._hosts = hosts
        self.handlers: dict[str, Handler] = {}
        self.requests: dict[str, int] = {}
        self.port = 0
        self._runner: web.AppRunner | None = None

    def serve_json(self, host: str, body: str, headers: dict[str, str] | None = None) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(text=body, content_type="application/json", headers=headers)

        self.handlers[host] = handler

    def redirect(self, host: str, location: str, status: int = 302) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, headers={"Location": location})

        self.handlers[host] = handler

    def url(self, host: str, path: str = "/.well-known/matrix/server") -> str:
        return f"https://{host}:{self.port}{path}"

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        host = request.host.rsplit(":", 1)[0]
        self.requests[host] = self.requests.get(host, 0) + 1
        handler = self.handlers.get(host)
        if handler is None:
            return web.Response(status=404, text="{}")
        return await handler(request)

    async def start(self) -> WellKnownServer:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._dispatch)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert(*self._hosts, "127.0.0.1").configure_cert(context)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]
        # the same server on 127.0.0.2 too, for names that must not be 127.0.0.1
        await web.TCPSite(self._runner, "127.0.0.2", self.port, ssl_context=context).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def ip_literal_resolver(clock: Clock) -> ServerResolver:
    """Discovery for IP-literal server names (``127.0.0.2:8448``), which the spec's
    step 1 answers without DNS or a well-known fetch: nothing here is ever asked."""
    dns = Dns(system_nameservers(), DnsOptions(), clock)
    well_known = WellKnownClient(
        IpDenylist([], lookup=dns.lookup), ssl.create_default_context(), clock
    )
    return ServerResolver(dns, well_known, clock)
