from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from conduwuit.api.router import Route
from conduwuit.config import GlobalConfig, load_config
from conduwuit.http.app import make_app

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
