"""The HTTP client of push gateways: ``POST /_matrix/push/v1/notify`` (Push Gateway API).

Connections go only to addresses ``ip_range_denylist`` allows (checked when each
connection is made, see :mod:`conduwuit.service.ip_denylist`); redirects are not
followed and proxies from the environment are not used, so neither can lead a
request elsewhere. Any answer but a 2xx with a JSON object is a failure the caller
retries, as Synapse does.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from conduwuit.service.ip_denylist import DeniedHost, DenylistResolver, IpDenylist
from conduwuit.service.tls import LazyTLS, system_tls

log = logging.getLogger(__name__)

#: Largest gateway answer read (a list of rejected pushkeys).
MAX_RESPONSE_BYTES = 64 * 1024


class GatewayError(Exception):
    """The gateway could not be reached or did not accept the notification."""


class GatewayClient:
    def __init__(
        self,
        denylist: IpDenylist,
        *,
        timeout_s: float,
        idle_timeout_s: float = 15,
        tls: LazyTLS | None = None,
    ) -> None:
        self._denylist = denylist
        self._tls = tls or system_tls()
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._idle_timeout_s = idle_timeout_s
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=DenylistResolver(self._denylist),
                keepalive_timeout=self._idle_timeout_s,
                use_dns_cache=False,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, trust_env=False
            )
        return self._session

    async def notify(self, url: str, body: dict[str, Any]) -> list[str]:
        """POST ``body`` to ``url``; the pushkeys the gateway rejected."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass  # a name: the resolver checks it when connecting
        else:
            try:
                await self._denylist.check(host, parts.port or 0)
            except DeniedHost as exc:
                raise GatewayError(str(exc)) from exc
        try:
            tls = await self._tls.for_url(url)
            async with self._client().post(
                url, json=body, allow_redirects=False, ssl=tls
            ) as response:
                raw = await response.content.read(MAX_RESPONSE_BYTES)
                if not 200 <= response.status < 300:
                    raise GatewayError(f"{url} answered {response.status}")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise GatewayError(f"{url}: {type(exc).__name__} {exc}") from exc
        try:
            answer = json.loads(raw)
        except ValueError as exc:
            raise GatewayError(f"{url} answered with invalid JSON") from exc
        if not isinstance(answer, dict):
            raise GatewayError(f"{url} answered with JSON that is not an object")
        rejected = answer.get("rejected", [])
        if not isinstance(rejected, list):
            return []
        return [pushkey for pushkey in rejected if isinstance(pushkey, str)]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
