"""Fetching ``https://<hostname>/.well-known/matrix/server`` (spec: step 3 of
"Resolving server names").

HTTPS only, certificates checked against the system's CAs plus
``federation_ca_file``; redirects followed (to HTTPS URLs only, at most
:data:`MAX_REDIRECTS`, never to a URL already visited); at most
:data:`MAX_BODY_BYTES` of body. Every host it connects to, the first and those of
redirects, goes through :class:`~conduwuit.service.ip_denylist.IpDenylist`: names
with the aiohttp resolver there, when the connection is made; IP literals before the
request. A refused host is a failure like any other.

The port is 443 in production; tests pass another (443 needs root). It applies to
the first request only: a redirect says its own port.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiohttp
from yarl import URL

from conduwuit.core.ids import ServerName
from conduwuit.core.server_discovery import (
    WELL_KNOWN_FAILURE_CACHE_S,
    cache_seconds,
    ip_literal,
    parse_well_known,
)
from conduwuit.service.clock import Clock
from conduwuit.service.ip_denylist import DeniedHost, DenylistResolver, IpDenylist
from conduwuit.service.tls import LazyTLS

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
#: A larger document is refused (conduwuit: 10 000 characters; a real one has ~40).
MAX_BODY_BYTES = 50 * 1024
WELL_KNOWN_PATH = "/.well-known/matrix/server"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class WellKnownAnswer:
    """The delegated server name (``None``: the fetch failed, go on with SRV) and how
    long the answer may be kept, in seconds (0: not at all)."""

    server: ServerName | None
    cache_s: float
    problem: str = ""
    #: The failure may be passing (no connection, a timeout, a 5xx answer), rather
    #: than an answer that there is no valid delegation.
    transient: bool = False


@dataclass(frozen=True)
class Fetched:
    """A document fetched: its body and the caching headers."""

    data: bytes
    cache_control: str | None
    expires: str | None


class WellKnownError(Exception):
    """A document could not be fetched (the reason is the message)."""


class WellKnownFetch(Protocol):
    async def fetch(self, hostname: str) -> WellKnownAnswer: ...

    async def fetch_document(self, server_name: str, path: str) -> bytes: ...

    async def close(self) -> None: ...


def federation_ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    """The system's CAs, plus ``federation_ca_file`` when set."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


class WellKnownClient:
    def __init__(
        self,
        denylist: IpDenylist,
        tls: ssl.SSLContext | LazyTLS,
        clock: Clock,
        *,
        port: int = 443,
        conn_timeout_s: float = 6,
        timeout_s: float = 10,
    ) -> None:
        self._denylist = denylist
        self._tls = tls if isinstance(tls, LazyTLS) else LazyTLS.ready(tls)
        self._clock = clock
        self._port = port
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=conn_timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            tls = await self._tls.context()
            connector = aiohttp.TCPConnector(
                resolver=DenylistResolver(self._denylist), ssl=tls, use_dns_cache=False
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, trust_env=False
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, hostname: str) -> WellKnownAnswer:
        url = URL.build(scheme="https", host=hostname, port=self._port, path=WELL_KNOWN_PATH)
        got = await self._get(url)
        if isinstance(got, WellKnownAnswer):
            answer = got
        else:
            server = parse_well_known(got.data)
            if server is None:
                answer = _failure(f"{url}: not a JSON object with a valid m.server")
            else:
                keep = cache_seconds(got.cache_control, got.expires, self._clock() / 1000)
                answer = WellKnownAnswer(server, keep)
        if answer.server is None:
            log.info("no well-known delegation for %s: %s", hostname, answer.problem)
        return answer

    async def fetch_document(self, server_name: str, path: str) -> bytes:
        """Another document of a server fetched the same way (``/.well-known/matrix/
        support`` for the admin room), from ``https://<server_name><path>`` (its port
        if the name has one); ``WellKnownError`` with the reason if it fails."""
        try:
            name = ServerName.parse(server_name)
        except ValueError as exc:
            raise WellKnownError(f"{server_name!r} is not a server name: {exc}") from None
        host = name.host.strip("[]")
        url = URL.build(scheme="https", host=host, port=name.port or self._port, path=path)
        got = await self._get(url)
        if isinstance(got, WellKnownAnswer):
            raise WellKnownError(got.problem)
        return got.data

    async def _get(self, url: URL) -> Fetched | WellKnownAnswer:
        """The body, or the failure (as an answer without a server)."""
        try:
            return await self._follow(url)
        except DeniedHost as exc:
            return _failure(f"{type(exc).__name__}: {exc}")
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            return _failure(f"{type(exc).__name__}: {exc}", transient=True)

    async def _follow(self, url: URL) -> Fetched | WellKnownAnswer:
        visited = {url}
        for _ in range(MAX_REDIRECTS + 1):
            host = url.host or ""
            if ip_literal(host) is not None:  # aiohttp does not resolve those
                await self._denylist.check(host, url.port or 443)
            client = await self._client()
            async with client.get(url, allow_redirects=False) as response:
                if response.status in _REDIRECTS:
                    location = response.headers.get("Location")
                    if location is None:
                        return _failure(f"{url} redirected without a Location")
                    url = url.join(URL(location))
                    if url.scheme != "https":
                        return _failure(f"redirect to {url}: not HTTPS")
                    if url in visited:
                        return _failure(f"redirect loop at {url}")
                    visited.add(url)
                    continue
                if response.status != 200:
                    return _failure(
                        f"{url} answered {response.status}", transient=response.status >= 500
                    )
                length = response.content_length
                if length is not None and length > MAX_BODY_BYTES:
                    return _failure(f"{url}: body of {length} bytes is too large")
                body = await _read_at_most(response, MAX_BODY_BYTES + 1)
                if len(body) > MAX_BODY_BYTES:
                    return _failure(f"{url}: body over {MAX_BODY_BYTES} bytes")
                return Fetched(
                    body, response.headers.get("Cache-Control"), response.headers.get("Expires")
                )
        return _failure(f"more than {MAX_REDIRECTS} redirects")


async def _read_at_most(response: aiohttp.ClientResponse, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await response.content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _failure(problem: str, *, transient: bool = False) -> WellKnownAnswer:
    return WellKnownAnswer(None, WELL_KNOWN_FAILURE_CACHE_S, problem, transient)
