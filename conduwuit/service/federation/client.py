"""The outbound federation client: signed requests to other servers.

One pooled keep-alive aiohttp session per process (made on first use, inside the
running loop), at most ``PER_DESTINATION_CONNECTIONS`` open connections to one
destination. Every request:

- is refused before anything is sent when ``allow_federation`` is false, the
  destination is in ``forbidden_remote_server_names`` or is backing off;
- goes where the :class:`Resolver` says, with ``Host`` its ``host_header``;
- is signed with ``X-Matrix`` (origin = us, destination = the server name);
- verifies TLS against the destination's ``tls_name`` (also the SNI), with the
  system's CAs and ``federation_ca_file`` — never without verification;
- connects only to addresses ``ip_range_denylist`` allows, checked on the
  resolved address of every connection (:mod:`conduwuit.service.ip_denylist`);
- reads the answer streamed, stopping as soon as it is over the size cap.

Connection failures, timeouts and 5xx answers put the destination in an
exponential backoff (shared by all callers, capped); a success resets it. A 4xx is
the remote's answer, not a failure of the destination.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from yarl import URL

from conduwuit.core import canonical_json
from conduwuit.core.server_discovery import ip_literal
from conduwuit.core.signing import Keypair
from conduwuit.core.x_matrix import sign_request
from conduwuit.service.backoff import BACKOFF_MAX_MS, Backoff
from conduwuit.service.clock import Clock
from conduwuit.service.federation.destination import Destination, Resolver
from conduwuit.service.federation.well_known import federation_ssl_context
from conduwuit.service.ip_denylist import DeniedHost, DenylistResolver, IpDenylist
from conduwuit.service.tls import LazyTLS

log = logging.getLogger(__name__)

#: Open connections to one destination at most (requests beyond wait for one).
PER_DESTINATION_CONNECTIONS = 8
#: Open connections in all at most.
TOTAL_CONNECTIONS = 256
#: Largest answer read unless the caller says otherwise (a room's state on a join is
#: the big one; that caller passes its own cap).
DEFAULT_MAX_RESPONSE = 8 * 1024 * 1024


#: What failing to reach a destination looks like (it backs off after these).
_TRANSPORT_ERRORS = (DeniedHost, TimeoutError, aiohttp.ClientError, OSError, ssl.SSLError)


class FederationError(Exception):
    """A federation request did not produce an answer from the destination."""


class FederationDisabled(FederationError):
    """``allow_federation`` is false: nothing is sent."""


class ForbiddenServer(FederationError):
    """The destination is in ``forbidden_remote_server_names``."""


class BackingOff(FederationError):
    """The destination failed recently; no request until ``retry_at``."""

    def __init__(self, server_name: str, retry_at_ms: int) -> None:
        super().__init__(f"{server_name} is backing off until {retry_at_ms}")
        self.retry_at_ms = retry_at_ms


class Unreachable(FederationError):
    """No connection, a TLS failure, a denied address, a timeout or a 5xx."""


class ResponseTooLarge(FederationError):
    """The answer went over the size cap; the rest was not read."""


class RemoteError(FederationError):
    """The destination answered with a non-2xx status (4xx: its word, not a failure)."""

    def __init__(self, server_name: str, status: int, body: Any) -> None:
        errcode = body.get("errcode") if isinstance(body, dict) else None
        super().__init__(f"{server_name} answered {status} {errcode or ''}".rstrip())
        self.status = status
        self.body = body
        self.errcode: str | None = errcode if isinstance(errcode, str) else None


@dataclass(frozen=True)
class ClientSettings:
    allow_federation: bool = True
    forbidden_server_names: frozenset[str] = frozenset()
    conn_timeout_s: float = 10
    timeout_s: float = 300
    idle_timeout_s: float = 25
    ca_file: Path | None = None
    #: sender_retry_backoff_limit: the longest backoff of a failing destination.
    backoff_max_s: float = BACKOFF_MAX_MS / 1000


class FederationClient:
    def __init__(
        self,
        origin: str,
        keypair: Callable[[], Keypair],
        resolver: Resolver,
        denylist: IpDenylist,
        settings: ClientSettings,
        clock: Clock,
        tls: LazyTLS | None = None,
    ) -> None:
        """``tls``: the context, shared with the resolver's well-known fetches; by
        default the system's CAs and ``settings.ca_file``, built on first use."""
        self.origin = origin
        self._keypair = keypair
        self._resolver = resolver
        self._denylist = denylist
        self.settings = settings
        self.backoff = Backoff(clock, max_ms=int(settings.backoff_max_s * 1000))
        self.tls = tls or LazyTLS(lambda: federation_ssl_context(settings.ca_file))
        self._session: aiohttp.ClientSession | None = None

    async def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            tls = await self.tls.context()
            connector = aiohttp.TCPConnector(
                resolver=DenylistResolver(self._denylist),
                limit=TOTAL_CONNECTIONS,
                limit_per_host=PER_DESTINATION_CONNECTIONS,
                keepalive_timeout=self.settings.idle_timeout_s,
                use_dns_cache=False,
                ssl=tls,
            )
            timeout = aiohttp.ClientTimeout(
                total=self.settings.timeout_s, sock_connect=self.settings.conn_timeout_s
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=timeout, trust_env=False, auto_decompress=True
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def refuses(self, server_name: str) -> FederationError | None:
        """Why nothing may be sent to ``server_name``, or None."""
        if not self.settings.allow_federation:
            return FederationDisabled("federation is disabled on this server (allow_federation)")
        if server_name in self.settings.forbidden_server_names:
            return ForbiddenServer(f"{server_name} is in forbidden_remote_server_names")
        if server_name == self.origin:
            return FederationError("a federation request to ourselves")
        return None

    async def get(
        self, server_name: str, path: str, *, query: dict[str, str] | None = None, **kw: Any
    ) -> Any:
        return await self.request(server_name, "GET", path, query=query, **kw)

    async def request(
        self,
        server_name: str,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        content: Any = None,
        max_response: int = DEFAULT_MAX_RESPONSE,
        sign: bool = True,
    ) -> Any:
        """Send a request to ``server_name`` and return its JSON answer.

        ``path`` is already percent-encoded (``/_matrix/federation/v1/...``)."""
        self._check_allowed(server_name)
        uri = f"{path}?{urlencode(query)}" if query else path
        try:
            destination = await self._resolver.resolve(server_name)
            status, raw = await self._send(destination, method, uri, content, max_response, sign)
        except Exception as exc:
            failure = self._failure(server_name, method, path, exc)
            if failure is exc:
                raise
            raise failure from exc
        self._record_status(server_name, status)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
            if 200 <= status < 300:
                raise RemoteError(server_name, status, None) from None
        if not 200 <= status < 300:
            raise RemoteError(server_name, status, body)
        return body

    @asynccontextmanager
    async def stream(
        self,
        server_name: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        sign: bool = True,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """A GET to ``server_name`` whose answer (any status) is read by the caller,
        streamed (media downloads); the same refusals, signing, TLS, denylist and
        backoff as :meth:`request`. Errors while the caller reads the body count as
        failures of the destination too."""
        self._check_allowed(server_name)
        uri = f"{path}?{urlencode(query)}" if query else path
        try:
            destination = await self._resolver.resolve(server_name)
        except Exception as exc:
            failure = self._failure(server_name, "GET", path, exc)
            if failure is exc:
                raise
            raise failure from exc
        try:
            async with self._open(destination, "GET", uri, None, sign) as response:
                self._record_status(server_name, response.status)
                yield response
        except (*_TRANSPORT_ERRORS, ResponseTooLarge) as exc:
            # The caller's own errors (a Matrix error, a size limit) pass unchanged.
            failure = self._failure(server_name, "GET", path, exc)
            if failure is exc:
                raise
            raise failure from exc

    @asynccontextmanager
    async def stream_url(self, url: str) -> AsyncIterator[aiohttp.ClientResponse]:
        """An unsigned GET of an ``https`` URL another server pointed us to (a media
        ``Location``): only ip_range_denylist-allowed addresses, no redirects
        followed here, the system's CAs and federation_ca_file. No backoff."""
        target = URL(url)
        if target.scheme != "https" or not target.host:
            raise Unreachable(f"not an https URL: {url[:200]}")
        try:
            if ip_literal(target.host) is not None:
                await self._denylist.check(target.host, target.port or 443)
            client = await self._client()
            async with client.get(target, allow_redirects=False) as response:
                yield response
        except _TRANSPORT_ERRORS as exc:
            raise Unreachable(f"{target.host}: {type(exc).__name__} {exc}") from exc

    def _check_allowed(self, server_name: str) -> None:
        refused = self.refuses(server_name)
        if refused is not None:
            raise refused
        retry_at = self.backoff.retry_at(server_name)
        if retry_at is not None:
            raise BackingOff(server_name, retry_at)

    def _failure(self, server_name: str, method: str, path: str, exc: Exception) -> Exception:
        """What a failed request raises; the destination backs off unless the error
        is its (4xx) answer or a refusal made here."""
        if isinstance(exc, _TRANSPORT_ERRORS):
            self.backoff.failed(server_name)
            # Its address may have changed: look it up again at the next attempt.
            self._resolver.forget(server_name)
            log.info("federation %s %s to %s failed: %r", method, path, server_name, exc)
            return Unreachable(f"{server_name}: {type(exc).__name__} {exc}")
        if isinstance(exc, ResponseTooLarge):
            self.backoff.failed(server_name)
            return exc
        if isinstance(exc, FederationError):
            return exc
        # The resolver's own errors (no such server) count as failures too; the
        # name is looked up again at the next attempt (it may resolve by then).
        self.backoff.failed(server_name)
        self._resolver.forget(server_name)
        return Unreachable(f"{server_name}: {exc}")

    def _record_status(self, server_name: str, status: int) -> None:
        if status >= 500:
            self.backoff.failed(server_name)
        else:
            self.backoff.succeeded(server_name)

    async def _send(
        self,
        destination: Destination,
        method: str,
        uri: str,
        content: Any,
        max_response: int,
        sign: bool,
    ) -> tuple[int, bytes]:
        async with self._open(destination, method, uri, content, sign) as response:
            if response.content_length is not None and response.content_length > max_response:
                raise ResponseTooLarge(
                    f"{destination.server_name} announced {response.content_length} bytes"
                )
            raw = bytearray()
            async for chunk in response.content.iter_any():
                raw += chunk
                if len(raw) > max_response:
                    raise ResponseTooLarge(
                        f"{destination.server_name} sent more than {max_response} bytes"
                    )
            return response.status, bytes(raw)

    @asynccontextmanager
    async def _open(
        self, destination: Destination, method: str, uri: str, content: Any, sign: bool
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        if ip_literal(destination.host) is not None:
            # aiohttp asks the resolver only about names: check literals here.
            await self._denylist.check(destination.host, destination.port)
        headers = {"Host": destination.host_header}
        data: bytes | None = None
        if content is not None:
            data = canonical_json.encode(content)
            headers["Content-Type"] = "application/json"
        if sign:
            auth = sign_request(
                self._keypair(), method, uri, self.origin, destination.server_name, content
            )
            headers["Authorization"] = auth.header()
        host = f"[{destination.host}]" if ":" in destination.host else destination.host
        url = f"https://{host}:{destination.port}{uri}"
        client = await self._client()
        async with client.request(
            method,
            URL(url, encoded=True),
            data=data,
            headers=headers,
            allow_redirects=False,
            server_hostname=destination.tls_name,
        ) as response:
            yield response
