"""Third-party networks (client-server API "Third-party networks"): the protocols,
locations and users that the registered application services bridge to, asked of
them through the Application Service API's ``/_matrix/app/v1/thirdparty/...``.

As in Synapse (``ApplicationServicesHandler.get_3pe_protocols`` / ``query_3pe``) a
protocol is asked of each service listing it in its registration's ``protocols``,
services are asked at the same time (here at most ``MAX_CONCURRENT`` at once), and a
service that fails, does not answer within ``appservice_timeout`` (the client's
timeout) or answers something invalid is left out: the others' answers still count.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from conduwuit.core.appservice import AppserviceRegistration, NamespaceKind
from conduwuit.core.thirdparty import (
    ThirdPartyKind,
    checked_protocol,
    checked_results,
    merge_protocols,
)
from conduwuit.service.appservice.client import AppserviceClient, AppserviceUnreachable, app_path
from conduwuit.service.appservice.registry import Appservices

log = logging.getLogger(__name__)

#: Services asked at the same time by one client request.
MAX_CONCURRENT = 8

T = TypeVar("T")
X = TypeVar("X")


class ThirdPartyLookups:
    def __init__(
        self,
        appservices: Appservices,
        client: AppserviceClient,
        *,
        max_concurrent: int = MAX_CONCURRENT,
    ) -> None:
        self._appservices = appservices
        self._client = client
        self._max_concurrent = max_concurrent

    async def _ask_all(self, items: Sequence[X], ask: Callable[[X], Awaitable[T]]) -> list[T]:
        """``ask(item)`` for each item, at most ``max_concurrent`` at once; the
        answers in the items' order."""
        gate = asyncio.Semaphore(self._max_concurrent)

        async def bounded(item: X) -> T:
            async with gate:
                return await ask(item)

        return list(await asyncio.gather(*(bounded(item) for item in items)))

    async def _get(self, reg: AppserviceRegistration, path: str) -> Any:
        """The JSON answer of ``GET path``, None if the service failed or refused."""
        try:
            status, body = await self._client.request(reg, "GET", path)
        except AppserviceUnreachable as exc:
            log.info("third-party request %s to appservice %s failed: %s", path, reg.id, exc)
            return None
        if status != 200:
            log.info("appservice %s answered %s to %s", reg.id, status, path)
            return None
        return body

    async def _protocol_of(self, ask: tuple[AppserviceRegistration, str]) -> dict[str, Any] | None:
        reg, protocol = ask
        answer = await self._get(reg, app_path("thirdparty", "protocol", protocol))
        checked = checked_protocol(reg.id, answer)
        if answer is not None and checked is None:
            log.info("appservice %s: invalid description of protocol %s", reg.id, protocol)
        return checked

    async def protocols(self, only: str | None = None) -> dict[str, dict[str, Any]]:
        """Protocol name → its description, the instances of all the services that
        provide it merged (only protocol ``only`` if given); a protocol no service
        described usably is left out."""
        asks = [
            (reg, protocol)
            for reg in self._appservices.all()
            if reg.url is not None
            for protocol in reg.protocols
            if only is None or protocol == only
        ]
        answers = await self._ask_all(asks, self._protocol_of)
        found: dict[str, list[dict[str, Any]]] = {}
        for (_, protocol), answer in zip(asks, answers, strict=True):
            if answer is not None:
                found.setdefault(protocol, []).append(answer)
        merged = {p: merge_protocols(descriptions) for p, descriptions in found.items()}
        return {p: d for p, d in merged.items() if d is not None}

    async def _results(
        self,
        services: Sequence[AppserviceRegistration],
        kind: ThirdPartyKind,
        path: str,
        fields: Sequence[tuple[str, str]],
    ) -> list[dict[str, Any]]:
        full_path = f"{path}?{urlencode(list(fields))}" if fields else path

        async def ask(reg: AppserviceRegistration) -> list[dict[str, Any]]:
            return checked_results(kind, await self._get(reg, full_path))

        return [r for results in await self._ask_all(services, ask) for r in results]

    async def lookup(
        self, kind: ThirdPartyKind, protocol: str, fields: Sequence[tuple[str, str]]
    ) -> list[dict[str, Any]]:
        """``GET /thirdparty/location|user/{protocol}``: the query ``fields`` passed
        to each service providing ``protocol``, their valid results concatenated."""
        services = [
            reg
            for reg in self._appservices.all()
            if reg.url is not None and protocol in reg.protocols
        ]
        path = app_path("thirdparty", kind.value, protocol)
        return await self._results(services, kind, path, fields)

    async def reverse_lookup(self, kind: ThirdPartyKind, matrix_id: str) -> list[dict[str, Any]]:
        """``GET /thirdparty/location?alias=`` / ``/thirdparty/user?userid=``: the
        third-party locations (users) a room alias (user ID) is bridged to.

        Synapse's servlet passes no protocol here, so no service counts as
        interested and it asks none (always ``[]``). We ask the services whose alias
        (user) namespace covers the ID instead, the services Synapse asks whether an
        alias or user exists (``query_room_alias_exists``, ``query_user_exists``):
        only a bridge that owns such IDs can know where they lead."""
        namespace = (
            NamespaceKind.ALIASES if kind is ThirdPartyKind.LOCATION else NamespaceKind.USERS
        )
        services = [
            reg
            for reg in self._appservices.all()
            if reg.url is not None and reg.in_namespace(namespace, matrix_id)
        ]
        path = app_path("thirdparty", kind.value)
        return await self._results(services, kind, path, [(kind.matrix_key, matrix_id)])
