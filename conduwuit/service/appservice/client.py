"""The HTTP client of application services (Application Service API): every request
carries ``Authorization: Bearer <hs_token>`` and goes to the registration's ``url``.

Application services are configured by the server's admins and usually run on the
same host, so unlike push gateways the ``ip_range_denylist`` does not apply (Synapse
does not apply it either). ``appservice_timeout`` bounds each request;
``appservice_idle_timeout`` the life of a pooled connection.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import aiohttp

from conduwuit.core.appservice import AppserviceRegistration
from conduwuit.service.tls import LazyTLS, system_tls

#: Largest answer read from an application service.
MAX_RESPONSE_BYTES = 1024 * 1024
APP_PREFIX = "/_matrix/app/v1"


class AppserviceUnreachable(Exception):
    """No answer: no URL, connection refused, timeout, or an answer that is not JSON."""


class AppserviceTimeout(AppserviceUnreachable):
    """No answer within ``appservice_timeout``."""


def app_path(*parts: str) -> str:
    """``/_matrix/app/v1/<parts, each percent-encoded>``."""
    return "/".join([APP_PREFIX, *(quote(p, safe="") for p in parts)])


class AppserviceClient:
    def __init__(
        self, *, timeout_s: float, idle_timeout_s: float, tls: LazyTLS | None = None
    ) -> None:
        self._tls = tls or system_tls()
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._idle_timeout_s = idle_timeout_s
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(keepalive_timeout=self._idle_timeout_s)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, trust_env=False
            )
        return self._session

    async def request_raw(
        self,
        reg: AppserviceRegistration,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
    ) -> tuple[int, bytes]:
        """The status and body of ``method path`` at the service."""
        if reg.url is None:
            raise AppserviceUnreachable(f"appservice {reg.id} has no url")
        url = reg.url.rstrip("/") + path
        headers = {"Authorization": f"Bearer {reg.hs_token}"}
        try:
            tls = await self._tls.for_url(url)
            async with self._client().request(
                method, url, json=body, headers=headers, allow_redirects=False, ssl=tls
            ) as response:
                return response.status, await response.content.read(MAX_RESPONSE_BYTES)
        except TimeoutError as exc:
            raise AppserviceTimeout(f"{url}: no answer in time") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise AppserviceUnreachable(f"{url}: {type(exc).__name__} {exc}") from exc

    async def request(
        self,
        reg: AppserviceRegistration,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
    ) -> tuple[int, Any]:
        """The status and JSON answer of ``method path`` at the service."""
        status, raw = await self.request_raw(reg, method, path, body)
        try:
            return status, json.loads(raw) if raw else {}
        except ValueError:
            raise AppserviceUnreachable(f"{reg.id} answered {status} without JSON") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
