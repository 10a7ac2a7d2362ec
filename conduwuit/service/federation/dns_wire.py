"""The wire side of :mod:`.dns`: queries to the nameservers with dnspython.

Split from :mod:`.dns` so that dnspython (2.4 MiB of RSS) is imported on the first
DNS query rather than at start-up (issue 21); :class:`~.dns.Dns` holds the cache
and the hosts file and calls :class:`Wire` for what they do not answer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.rrset

from conduwuit.service.clock import Clock
from conduwuit.service.federation.dns import (
    MAX_CNAME_HOPS,
    DnsAnswer,
    DnsError,
    DnsOptions,
    Nameserver,
)

log = logging.getLogger(__name__)


class Wire:
    """Asks ``nameservers`` with conduwuit's DNS options (see :mod:`.dns`)."""

    def __init__(
        self, nameservers: Sequence[Nameserver], options: DnsOptions, clock: Clock
    ) -> None:
        if not nameservers:
            raise ValueError("at least one nameserver is needed")
        self._nameservers = list(nameservers)
        self._options = options
        self._clock = clock
        #: Queries sent, over UDP and TCP together.
        self.queries_sent = 0

    async def resolve(self, name: str, rdtype: int) -> DnsAnswer:
        """The answer for ``name``/``rdtype`` (not cached here); :class:`DnsError` if
        no nameserver answered or the name is not a DNS name."""
        try:
            qname = dns.name.from_text(name)
        except dns.exception.DNSException as exc:  # an empty label, one over 63 bytes...
            raise DnsError(f"{name!r} is not a valid DNS name: {exc}") from exc
        return await self._follow(qname, dns.rdatatype.RdataType.make(rdtype))

    async def _follow(self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> DnsAnswer:
        ttl: int | None = None
        for _ in range(MAX_CNAME_HOPS):
            response = await self._ask(qname, rdtype)
            records, chain_ttl, end = _records(response, qname, rdtype)
            ttl = chain_ttl if ttl is None else min(ttl, chain_ttl)
            if records or end == qname or response.rcode() == dns.rcode.NXDOMAIN:
                return self._answer(response, records, ttl)
            qname = end  # an alias whose target the nameserver did not resolve
        raise DnsError(f"{qname}: CNAME chain longer than {MAX_CNAME_HOPS}")

    def _answer(
        self, response: dns.message.Message, records: list[dns.rdata.Rdata], ttl: int
    ) -> DnsAnswer:
        now = self._clock()
        if records:
            lifetime = max(ttl, self._options.min_ttl_s)
            return DnsAnswer(tuple(records), False, now + lifetime * 1000)
        negative_ttl = 0
        for rrset in response.authority:
            if rrset.rdtype == dns.rdatatype.SOA:
                negative_ttl = min(rrset.ttl, rrset[0].minimum)  # RFC 2308 section 5
        lifetime = max(negative_ttl, self._options.min_ttl_nxdomain_s)
        nxdomain = response.rcode() == dns.rcode.NXDOMAIN
        return DnsAnswer((), nxdomain, now + lifetime * 1000)

    async def _ask(
        self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType
    ) -> dns.message.Message:
        """One answer from the nameservers: the first positive one; a negative one when
        every nameserver of a round gave one (or the first, without
        ``query_all_nameservers``); rounds repeat after timeouts and failures."""
        query = dns.message.make_query(qname, rdtype)
        problems: list[str] = []
        for _round in range(1 + self._options.attempts):
            negative: dns.message.Message | None = None
            for nameserver in self._nameservers:
                try:
                    response = await self._exchange(query, nameserver)
                except (dns.exception.DNSException, OSError, EOFError) as exc:
                    problems.append(f"{nameserver[0]}:{nameserver[1]}: {type(exc).__name__}")
                    continue
                rcode = response.rcode()
                if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                    problems.append(f"{nameserver[0]}:{nameserver[1]}: {dns.rcode.to_text(rcode)}")
                    continue
                if rcode == dns.rcode.NOERROR and response.answer:
                    return response
                negative = negative or response
                if not self._options.query_all_nameservers:
                    return negative
            if negative is not None:
                return negative
        raise DnsError(f"no answer for {qname} {dns.rdatatype.to_text(rdtype)}: {problems[-3:]}")

    async def _exchange(
        self, query: dns.message.Message, nameserver: Nameserver
    ) -> dns.message.Message:
        address, port = nameserver
        timeout = self._options.timeout_s
        self.queries_sent += 1
        if self._options.tcp_only:
            return await dns.asyncquery.tcp(query, address, timeout=timeout, port=port)
        try:
            return await dns.asyncquery.udp(
                query, address, timeout=timeout, port=port, raise_on_truncation=True
            )
        except dns.message.Truncated as exc:
            if not self._options.tcp_fallback:
                truncated: dns.message.Message = exc.message()  # type: ignore[no-untyped-call]
                return truncated
            log.debug("truncated UDP answer from %s:%s, asking over TCP", address, port)
        except OSError:
            if not self._options.tcp_fallback:
                raise
            log.debug("UDP query to %s:%s failed, asking over TCP", address, port)
        self.queries_sent += 1
        return await dns.asyncquery.tcp(query, address, timeout=timeout, port=port)


def _records(
    response: dns.message.Message, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType
) -> tuple[list[dns.rdata.Rdata], int, dns.name.Name]:
    """The records of ``rdtype`` at the end of the CNAME chain from ``qname`` in the
    answer section, the chain's smallest TTL, and the name the chain ends at."""
    name = qname
    ttls: list[int] = []
    for _ in range(MAX_CNAME_HOPS):
        rrset = _rrset(response, name, rdtype)
        if rrset is not None:
            return list(rrset), min([*ttls, rrset.ttl]), name
        cname = _rrset(response, name, dns.rdatatype.CNAME)
        if cname is None:
            break
        ttls.append(cname.ttl)
        name = cname[0].target
    return [], min(ttls, default=0), name


def _rrset(
    response: dns.message.Message, name: dns.name.Name, rdtype: int
) -> dns.rrset.RRset | None:
    for rrset in response.answer:
        if rrset.name == name and rrset.rdtype == rdtype:
            return rrset
    return None
