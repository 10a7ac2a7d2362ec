"""Asking application services (Application Service API "Querying", "Pinging",
"Third-party networks"): whether a user or room alias in their namespace exists,
the ping, and (``third_party``) their third-party protocols, locations and users.

Queries go, in registration order, to each service with a url whose namespace
(exclusive or not) covers the ID, until one answers 200; like Synapse, a service that
fails or answers otherwise counts as "does not know it". The service is expected to
have created the user or alias (through the client-server API) before it answers.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from conduwuit.core.appservice import AppserviceRegistration, NamespaceKind
from conduwuit.core.errors import ErrCode, MatrixError
from conduwuit.service.appservice.client import (
    AppserviceClient,
    AppserviceTimeout,
    AppserviceUnreachable,
    app_path,
)
from conduwuit.service.appservice.registry import Appservices
from conduwuit.service.appservice.thirdparty import ThirdPartyLookups

log = logging.getLogger(__name__)


class AppserviceQueries:
    def __init__(self, appservices: Appservices, client: AppserviceClient) -> None:
        self._appservices = appservices
        self._client = client
        #: Third-party networks over the same registrations and client.
        self.third_party = ThirdPartyLookups(appservices, client)

    async def _ask(self, kind: NamespaceKind, value: str, path: str) -> bool:
        for reg in self._appservices.all():
            if reg.url is None or not reg.in_namespace(kind, value):
                continue
            try:
                status, _ = await self._client.request(reg, "GET", path)
            except AppserviceUnreachable as exc:
                log.info("query of %s at appservice %s failed: %s", value, reg.id, exc)
                continue
            if status == 200:
                return True
        return False

    async def user_exists(self, user_id: str) -> bool:
        """``GET /_matrix/app/v1/users/{userId}`` at the interested services."""
        return await self._ask(NamespaceKind.USERS, user_id, app_path("users", user_id))

    async def alias_exists(self, alias: str) -> bool:
        """``GET /_matrix/app/v1/rooms/{roomAlias}`` at the interested services."""
        return await self._ask(NamespaceKind.ALIASES, alias, app_path("rooms", alias))

    async def ping(self, reg: AppserviceRegistration, transaction_id: str | None) -> int:
        """Client-server API "Pinging" (v1.7): ``POST /_matrix/app/v1/ping`` at the
        service; the round trip in milliseconds, or the spec's errors."""
        if reg.url is None:
            raise MatrixError(ErrCode.URL_NOT_SET, "Application service URL is not set.")
        body: dict[str, Any] = {}
        if transaction_id is not None:
            body["transaction_id"] = transaction_id
        started = time.monotonic()
        try:
            status, raw = await self._client.request_raw(reg, "POST", app_path("ping"), body)
        except AppserviceTimeout:
            raise MatrixError(
                ErrCode.CONNECTION_TIMEOUT, "Connection to application service timed out."
            ) from None
        except AppserviceUnreachable as exc:
            raise MatrixError(
                ErrCode.CONNECTION_FAILED, f"Connection to application service failed: {exc}"
            ) from None
        if not 200 <= status < 300:
            error = MatrixError(
                ErrCode.BAD_STATUS,
                f"Ping returned status {status}",
                body=raw.decode("utf-8", "replace"),
            )
            error.extra["status"] = status  # a body field, not the HTTP status (502)
            raise error
        return int((time.monotonic() - started) * 1000)
