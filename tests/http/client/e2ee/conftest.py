"""The e2ee endpoints of a real homeserver built by the composition root.

Tests name a device ``"<user_id>|<device_id>"``; the first request made as a
device logs it in for real (the registration service's login) and sends the
access token the server issued. Alice and Bob are registered accounts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from conduwuit.api.auth import TokenAuthenticator, requester
from conduwuit.api.client import keys
from conduwuit.core.ids import UserId
from conduwuit.db import Database
from conduwuit.http.app import make_app
from conduwuit.server import build
from conduwuit.service.e2ee import E2ee
from conduwuit.service.rooms.actions import CreateRoom
from conduwuit.service.services import Services
from conduwuit.service.uiaa import DUMMY
from tests.kit.homeserver import FakeClock, homeserver_config
from tests.service.e2ee.conftest import ALICE, BOB, SERVER


@dataclass
class Api:
    client: TestClient[Any, Any]
    services: Services
    tokens: dict[str, str] = field(default_factory=dict)  # "user|device" -> access token
    rooms: dict[str, str] = field(default_factory=dict)  # the test's name -> room ID

    @property
    def e2ee(self) -> E2ee:
        return self.services.e2ee

    @property
    def db(self) -> Database:
        return self.services.db

    def login(self, user_id: str, device_id: str, name: str | None = None) -> str:
        session = self.services.users.registration.login(user_id, device_id, name)
        self.tokens[f"{user_id}|{device_id}"] = session.access_token
        return session.access_token

    async def call(
        self, method: str, path: str, who: str | None, body: Any = None, **params: str
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token(who)}"} if who else {}
        url = f"/_matrix/client/v3{path}"
        response = await self.client.request(
            method, url, json=body, headers=headers, params=params or None
        )
        return response.status, await response.json()

    def token(self, who: str) -> str:
        """The access token of the device ``who`` names, logging it in on first use."""
        if who not in self.tokens:
            user_id, _, device_id = who.partition("|")
            return self.login(user_id, device_id)
        return self.tokens[who]

    async def join(self, user_id: str, room: str) -> None:
        """Join ``room``; the first joiner of a name creates a public room for it."""
        user = UserId.parse(user_id)
        if room not in self.rooms:
            request = CreateRoom(preset="public_chat")
            self.rooms[room] = await self.services.rooms.actions.create_room(user, request)
        else:
            await self.services.rooms.membership.join(user, self.rooms[room])


async def _register_users(services: Services) -> None:
    registration = services.users.registration
    for user_id in (ALICE, BOB):
        localpart = user_id[1:].split(":", 1)[0]
        await registration.register(registration.check_available(localpart), None, login=False)


async def _serve(app: web.Application) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    server = build(homeserver_config(tmp_path / "db", server_name=SERVER), FakeClock())
    await _register_users(server.services)
    client = await _serve(server.app)
    yield Api(client, server.services)
    await client.close()
    server.close()


@pytest.fixture
async def dummy_uia_api(tmp_path: Path) -> AsyncIterator[Api]:
    """The /keys endpoints with a gate that asks for m.login.dummy (the real Uiaa).

    The server asks for the password to replace cross-signing keys (see
    test_wired); this serves the keys endpoints of the same real services and
    authenticator with the m.login.dummy flow, for the test of how the endpoint
    uses its UIA gate.
    """
    clock = FakeClock()
    server = build(homeserver_config(tmp_path / "db", server_name=SERVER), clock)
    services = server.services
    await _register_users(services)

    async def uia(auth: dict[str, Any] | None, user_id: str) -> object:
        return await services.users.uiaa.authenticate(auth, [[DUMMY]], user_id=user_id)

    authenticator = TokenAuthenticator(services.users.devices, services.users.accounts, clock)
    app = make_app(
        services.config, keys.routes(services.e2ee, requester=requester, uia=uia), authenticator
    )
    client = await _serve(app)
    yield Api(client, services)
    await client.close()
    server.close()
