"""A small application service on loopback for tests: it records the transactions
and queries the homeserver sends it, checks the hs_token, and can be told to fail.
It also answers the third-party network requests (``/_matrix/app/v1/thirdparty/...``)
with what a test gives it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

HS_TOKEN = "hs-token-test"
AS_TOKEN = "as-token-test"


@dataclass
class FakeAppservice:
    #: (txnId, events) of each transaction answered 200, in order.
    transactions: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    #: The whole body of each of those transactions, in order.
    bodies: list[dict[str, Any]] = field(default_factory=list)
    #: Transactions answered with an error while ``failing``.
    refused: int = 0
    failing: bool = False
    #: Answer pings with this error status instead of 200.
    failing_pings: int | None = None
    #: Answers user and alias queries (GET /_matrix/app/v1/users/{userId},
    #: /rooms/{alias}): creates the entity through the homeserver and says True.
    on_query: Callable[[str], Awaitable[bool]] | None = None
    queries: list[str] = field(default_factory=list)
    pings: list[dict[str, Any]] = field(default_factory=list)
    #: Third-party networks: protocol name → the answer to
    #: ``GET /thirdparty/protocol/{protocol}`` (any JSON, to test invalid ones); an
    #: unknown protocol gets 404.
    protocols: dict[str, Any] = field(default_factory=dict)
    #: The answers to the location and user lookups (by protocol or by alias/user ID).
    locations: Any = field(default_factory=list)
    third_party_users: Any = field(default_factory=list)
    #: (path, query pairs) of each third-party request, in order.
    third_party_requests: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    #: Seconds to wait before answering a third-party request (a slow service).
    third_party_delay: float = 0.0
    #: Third-party requests being answered now, and the most at once.
    third_party_in_flight: int = 0
    third_party_most_at_once: int = 0
    server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}"

    def event_ids(self) -> list[str]:
        return [e["event_id"] for _, events in self.transactions for e in events]

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {HS_TOKEN}"

    async def _transaction(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"errcode": "M_FORBIDDEN"}, status=403)
        if self.failing:
            self.refused += 1
            return web.json_response({"errcode": "M_UNKNOWN"}, status=500)
        txn_id = request.match_info["txn_id"]
        if txn_id not in {t for t, _ in self.transactions}:
            body = await request.json()
            self.transactions.append((txn_id, body["events"]))
            self.bodies.append(body)
        return web.json_response({})

    async def _query(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"errcode": "M_FORBIDDEN"}, status=403)
        wanted = request.match_info["id"]
        self.queries.append(wanted)
        if self.on_query is not None and await self.on_query(wanted):
            return web.json_response({})
        return web.json_response({"errcode": "M_NOT_FOUND"}, status=404)

    async def _ping(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"errcode": "M_FORBIDDEN"}, status=403)
        if self.failing_pings is not None:
            return web.json_response({"errcode": "M_UNKNOWN_TOKEN"}, status=self.failing_pings)
        self.pings.append(await request.json())
        return web.json_response({})

    async def _third_party(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"errcode": "M_FORBIDDEN"}, status=403)
        self.third_party_requests.append((request.path, list(request.query.items())))
        self.third_party_in_flight += 1
        self.third_party_most_at_once = max(
            self.third_party_most_at_once, self.third_party_in_flight
        )
        try:
            await asyncio.sleep(self.third_party_delay)
        finally:
            self.third_party_in_flight -= 1
        kind = request.match_info["kind"]
        if kind == "protocol":
            name = request.match_info.get("protocol", "")
            if name not in self.protocols:
                return web.json_response({"errcode": "M_NOT_FOUND"}, status=404)
            return web.json_response(self.protocols[name])
        return web.json_response(self.locations if kind == "location" else self.third_party_users)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_put("/_matrix/app/v1/transactions/{txn_id}", self._transaction)
        app.router.add_get("/_matrix/app/v1/users/{id}", self._query)
        app.router.add_get("/_matrix/app/v1/rooms/{id}", self._query)
        app.router.add_post("/_matrix/app/v1/ping", self._ping)
        app.router.add_get("/_matrix/app/v1/thirdparty/{kind}", self._third_party)
        app.router.add_get("/_matrix/app/v1/thirdparty/{kind}/{protocol}", self._third_party)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    def ephemeral(self, key: str = "ephemeral") -> list[dict[str, Any]]:
        """What the transactions carried under ``key`` (MSC2409), in order."""
        return [e for body in self.bodies for e in body.get(key, [])]

    def registration_yaml(
        self,
        as_id: str = "fake",
        *,
        url: str | None = None,
        extra: str = "",
        prefix: str = "_fake",
        as_token: str = AS_TOKEN,
        protocols: Sequence[str] = (),
    ) -> str:
        """The registration; ``extra`` is added as top-level YAML lines. A second
        service needs its own ``prefix`` (of its sender and namespaces) and
        ``as_token``."""
        protocol_list = ", ".join(protocols)
        return f"""\
{extra}id: {as_id}
url: {url or self.url}
as_token: {as_token}
hs_token: {HS_TOKEN}
sender_localpart: {prefix}_bot
protocols: [{protocol_list}]
namespaces:
  users:
    - exclusive: true
      regex: '@{prefix}_.*'
  aliases:
    - exclusive: true
      regex: '#{prefix}_.*'
  rooms: []
"""
