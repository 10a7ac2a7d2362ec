from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from conduwuit.api.router import Route
from conduwuit.config import GlobalConfig, load_config
from conduwuit.http.app import make_app
from tests.kit.homeserver import Homeserver, StartHomeserver, start_homeserver

MakeClient = Callable[..., Any]


def make_config(**env: str) -> GlobalConfig:
    environ = {"CONDUWUIT_SERVER_NAME": "test.example"}
    environ.update({f"CONDUWUIT_{key.upper()}": value for key, value in env.items()})
    return load_config(None, environ).config


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    """Start the app on a real loopback port and return an aiohttp client for it."""
    clients: list[TestClient[Any, Any]] = []

    async def factory(
        routes: Iterable[Route], config: GlobalConfig | None = None
    ) -> TestClient[Any, Any]:
        app = make_app(config or make_config(), routes)
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[StartHomeserver]:
    """Start a homeserver with config overrides: ``hs = await start(allow_registration=False)``."""
    servers: list[Homeserver] = []

    async def factory(**options: Any) -> Homeserver:
        server = await start_homeserver(tmp_path / f"db{len(servers)}", **options)
        servers.append(server)
        return server

    yield factory
    for server in servers:
        await server.close()


@pytest.fixture
async def hs(start: StartHomeserver) -> Homeserver:
    return await start()
